import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
sys.path.insert(0, str(Path(__file__).parent))


def spec_path(name: str) -> Path:
    return SPECS / f"{name}.arch"


def bundled_specs() -> list[Path]:
    """The bundled networks (not the block libraries they use)."""
    return sorted(p for p in SPECS.rglob("*.arch") if not is_library(p))


def is_library(path: Path) -> bool:
    """A file of block definitions only: every top-level line is a `block`, a `use` or a comment."""
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line[0].isspace()]
    return all(line.split()[0] in ("block", "use") or line.startswith("#") for line in lines)
