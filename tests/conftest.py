import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
sys.path.insert(0, str(Path(__file__).parent))

from archdsl.zoo import is_library  # noqa: E402  (after the path is set up)


def spec_path(name: str) -> Path:
    return SPECS / f"{name}.arch"


def bundled_specs() -> list[Path]:
    """The bundled networks (not the block libraries they use)."""
    return sorted(p for p in SPECS.rglob("*.arch") if not is_library(p))
