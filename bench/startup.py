"""Start-up: whole `archdsl compile --check` processes against `python -c "import torch"`.

Every round runs each command once, in a rotating order (bench.timing.interleave), so that the
machine's drift and other load hit every command alike; the ratios are taken round by round and
summarised by their median and quartiles. Two identical `import torch` commands are timed as
an A/A control: their ratio shows how far the machine's noise alone moves a ratio. The table
also gives each command's CPU time (user + system, from the operating system's accounting of
child processes), which a busy machine disturbs less than wall time, and the load average.

    python -m bench.startup [--repeats N] [--spec resnet152]

The goals (issue 22): one spec's check at most 0.2x of `import torch`; every bundled spec
checked in one call at most 3x one spec's check.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

from archdsl.commands.files import spec_paths
from bench.frontend import ROOT
from bench.timing import median, quartiles, ratios

RESULT = ROOT / "bench" / "results" / "startup.json"
CHECK_GOAL = 0.2  # one spec's check, as a fraction of `import torch`
EVERY_GOAL = 3.0  # every bundled spec in one call, as a multiple of one spec's check
TORCH = "python -c 'import torch'"
CONTROL = "python -c 'import torch' (A/A control)"


def commands(spec: str) -> dict[str, list[str]]:
    python = sys.executable
    return {
        TORCH: [python, "-c", "import torch"],
        f"archdsl compile {spec} --check": [python, "-m", "archdsl", "compile", spec, "--check"],
        "archdsl compile --check specs/ (every bundled spec)": [python, "-m", "archdsl", "compile", "--check",
                                                                "specs"],
        CONTROL: [python, "-c", "import torch"],
    }


#: the processes' environment: Python writes bytecode, as it does in an installed package (pip
#: compiles it at install time); without it every run would compile archdsl's modules again
ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_once(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=ENVIRONMENT, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(spec: str, repeats: int) -> dict:
    """Wall and CPU times of each command over `repeats` interleaved rounds, the ratios, the load."""
    cmds = commands(spec)
    for command in cmds.values():  # warm the file cache, the bytecode and the parser's table cache
        run_once(command)
    names = list(cmds)
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    load_before = os.getloadavg()[0]
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            w, c = run_once(cmds[name])
            wall[name].append(w)
            cpu[name].append(c)
    check, every = names[1], names[2]
    files = len(spec_paths([str(ROOT / "specs")]))
    pairs = {"check / import torch": (check, TORCH), "every spec / one spec": (every, check),
             "A/A control": (CONTROL, TORCH)}
    ratio_rows = {}
    for label, (top, bottom) in pairs.items():
        low, mid, high = quartiles(ratios(wall[top], wall[bottom]))
        ratio_rows[label] = {"wall": mid, "wall_quartiles": [low, high], "cpu": median(cpu[top]) / median(cpu[bottom])}
    return {"commands": {name: {"wall_ms": 1e3 * median(wall[name]), "cpu_ms": 1e3 * median(cpu[name])}
                         for name in names},
            "ratios": ratio_rows, "goals": {"check / import torch": CHECK_GOAL, "every spec / one spec": EVERY_GOAL},
            "each further file": further_file(wall[every], wall[check], files),
            "environment": {"repeats": repeats, "load average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                            "cpus": os.cpu_count(), "python": platform.python_version(),
                            "date": time.strftime("%Y-%m-%d"), "commit": _commit()}}


def further_file(every: list[float], one: list[float], files: int) -> dict:
    """What each file after the first adds to the every-spec process, round by round: (its time
    less one spec's) over the other files, in ms, and as a share of one spec's whole process. The
    every-spec ratio grows with the number of bundled specs; this does not."""
    each = [(e - o) / (files - 1) for e, o in zip(every, one)]
    low, mid, high = quartiles(each)
    return {"files": files, "wall_ms": 1e3 * mid, "wall_ms_quartiles": [1e3 * low, 1e3 * high],
            "share_of_one": median([x / o for x, o in zip(each, one)])}


def verdict(value: float, goal: float, noise: float = 1.0) -> str:
    """`met` where the ratio's median stays within the goal even moved up by `noise`, how far the
    A/A control's upper quartile lies above its median (noise alone moves a ratio that far in a
    quarter of the rounds); met within that spread where only the median is; else missed."""
    if value * noise <= goal:
        return "met"
    return "met at the median, within the A/A control's spread of it" if value <= goal else "**missed**"


def section(result: dict) -> str:
    """The part of docs/performance.md these figures make."""
    env = result["environment"]
    rows = [f"| `{name}` | {t['wall_ms']:.0f} | {t['cpu_ms']:.0f} |" for name, t in result["commands"].items()]
    marks = []
    control = result["ratios"].get("A/A control")
    noise = control["wall_quartiles"][1] / control["wall"] if control else 1.0
    for label, r in result["ratios"].items():
        goal = result["goals"].get(label)
        low, high = r["wall_quartiles"]
        met = "" if goal is None else f" (goal at most {goal:g}: {verdict(r['wall'], goal, noise)})"
        marks.append(f"| {label}{met} | {r['wall']:.2f} ({low:.2f}-{high:.2f}) | {r['cpu']:.2f} |")
    first, last = env["load average"]
    further = result.get("each further file")
    each = [] if further is None else [
        f"Each file after the first adds {further['wall_ms']:.1f} ms "
        f"({further['wall_ms_quartiles'][0]:.1f}-{further['wall_ms_quartiles'][1]:.1f}) to the every-spec process, "
        f"{100 * further['share_of_one']:.1f}% of one spec's whole check: its time less one spec's, over the "
        f"{further['files'] - 1} other files, round by round. The every-spec ratio grows with the number of "
        "bundled files; this figure does not.", ""]
    return "\n".join([
        "## Start-up: whole processes", "",
        "`python3 -m bench.startup --save`: every round runs each command once, in a rotating order; the ratios "
        "are taken round by round (median, quartiles). CPU time is user + system time of the process, which a "
        "busy machine disturbs less than wall time. The second `import torch` is the A/A control, which shows "
        "how far noise alone moves a ratio. A goal is met where the ratio's median stays within it even when "
        "moved up as far as the control's upper quartile lies above the control's median. Bytecode is written, "
        "as in an installed package.", "",        "| command | wall ms (median) | CPU ms (median) |", "|---|---:|---:|", *rows, "",
        "| ratio | wall: median (quartiles) | CPU |", "|---|---:|---:|", *marks, "", *each,
        f"{env['repeats']} rounds, {env['date']}, commit {env['commit']}, Python {env['python']}, {env['cpus']} CPUs, "
        f"load average {first:.2f} at the start and {last:.2f} at the end."])


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10, help="interleaved rounds (default 10)")
    parser.add_argument("--spec", default="resnet152", help="the one spec checked (default resnet152)")
    parser.add_argument("--save", action="store_true",
                        help=f"store the figures in {RESULT.relative_to(ROOT)} (docs/performance.md shows them)")
    args = parser.parse_args(argv)
    result = measure(args.spec, args.repeats)
    print(section(result))
    if args.save:
        RESULT.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
