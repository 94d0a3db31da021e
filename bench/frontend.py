"""Section 1, the front end: parse + check time per spec in process, and the whole
`archdsl compile --check` process against `python -c "import torch"`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.timing import interleave, median, median_ms, quartiles, ratios

ROOT = Path(__file__).resolve().parent.parent


def parse_check(specs: list[Path], repeats: int) -> list[dict]:
    """Median time of `archdsl.api.analyse` (parse, elaborate, verify) per spec, warm."""
    from archdsl.api import analyse

    rows = []
    for path in specs:
        graph, _ = analyse(path)  # the first call builds the grammar
        rows.append({"spec": spec_name(path), "nodes": len(graph), "ms": median_ms(lambda: analyse(path), repeats)})
    return rows


def spec_name(path: Path) -> str:
    return str(path.relative_to(ROOT / "specs").with_suffix(""))


def processes(spec: Path, repeats: int) -> dict:
    """Whole-process wall times, interleaved: bare interpreter, `--check` of `spec`, `import torch`."""
    python = sys.executable
    commands = {
        "python -c pass": [python, "-c", "pass"],
        f"archdsl compile {spec_name(spec)}.arch --check": [python, "-m", "archdsl", "compile", str(spec), "--check"],
        "python -c 'import torch'": [python, "-c", "import torch"],
    }
    for command in commands.values():  # warm the file cache and bytecode
        _run(command)
    times = interleave({name: (lambda c=c: _run(c)) for name, c in commands.items()}, repeats)
    check, torch_import = list(commands)[1:]
    low, mid, high = quartiles(ratios(times[check], times[torch_import]))
    return {
        "commands": {name: 1e3 * median(ts) for name, ts in times.items()},
        "check": check, "torch": torch_import,
        "ratio": mid, "ratio_quartiles": [low, high], "repeats": repeats,
        "imports": slowest_imports(commands[check]),
    }


def _run(command: list[str]) -> None:
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def slowest_imports(command: list[str], top: int = 6) -> list[dict]:
    """The packages the command spends its import time in: each package's modules' own
    import time summed (python -X importtime), largest first."""
    result = subprocess.run([command[0], "-X", "importtime", *command[1:]], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    totals: dict[str, int] = {}
    for line in result.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            package = parts[2].strip().split(".")[0]
            totals[package] = totals.get(package, 0) + int(parts[0])
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    return [{"package": name, "ms": us / 1e3} for name, us in ranked]
