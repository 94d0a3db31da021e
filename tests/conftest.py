import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
sys.path.insert(0, str(Path(__file__).parent))


def spec_path(name: str) -> Path:
    return SPECS / f"{name}.arch"


def bundled_specs() -> list[Path]:
    return sorted(p for p in SPECS.rglob("*.arch"))
