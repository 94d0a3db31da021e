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
import os
import resource
import subprocess
import sys
import time

from bench.frontend import ROOT
from bench.timing import median, quartiles, ratios

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
    """Wall and CPU times of each command over `repeats` interleaved rounds, and the load average."""
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
    return {"wall": wall, "cpu": cpu, "repeats": repeats, "load": (load_before, os.getloadavg()[0]),
            "cpus": os.cpu_count()}


def table(result: dict) -> str:
    """The markdown table: each command's median wall and CPU time, and the ratios that matter."""
    wall, cpu = result["wall"], result["cpu"]
    names = list(wall)
    check, every = names[1], names[2]
    lines = ["| command | wall ms (median) | CPU ms (median) |", "|---|---:|---:|"]
    lines += [f"| `{name}` | {1e3 * median(wall[name]):.0f} | {1e3 * median(cpu[name]):.0f} |" for name in names]
    lines += ["", "| ratio | wall: median (quartiles) | CPU: median |", "|---|---:|---:|"]
    for label, top, bottom in ((f"{check} / import torch (goal at most 0.2)", check, TORCH),
                               ("every bundled spec / one spec (goal at most 3)", every, check),
                               ("A/A control: import torch / import torch", CONTROL, TORCH)):
        low, mid, high = quartiles(ratios(wall[top], wall[bottom]))
        lines.append(f"| {label} | {mid:.2f} ({low:.2f}-{high:.2f}) | {median(cpu[top]) / median(cpu[bottom]):.2f} |")
    first, last = result["load"]
    lines += ["", f"{result['repeats']} interleaved rounds; load average {first:.2f} before, {last:.2f} after, "
                  f"on {result['cpus']} CPUs."]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10, help="interleaved rounds (default 10)")
    parser.add_argument("--spec", default="resnet152", help="the one spec checked (default resnet152)")
    args = parser.parse_args(argv)
    print(table(measure(args.spec, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
