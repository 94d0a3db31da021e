"""Start-up in machine instructions: the commands of bench.startup counted under valgrind.

Wall and CPU time on a shared machine move by a tenth from run to run, more than most changes
to the per-spec work move them. An instruction count does not: run under valgrind's cachegrind
(without its cache simulation), with Python's hash seed fixed, the same command counts the same
instructions to a few parts in a million. This is the yardstick for a change to the check's
cost (run it before and after); it is not the goal's measure, since an instruction of
`import torch` (reading files, filling memory) takes longer than one of the checker's own.

    python -m bench.instructions [--spec resnet152]

Needs `valgrind` on the PATH; about a minute (the commands run some 30 times slower).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys

from bench.frontend import ROOT
from bench.startup import ENVIRONMENT, commands

VALGRIND = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]


def count(command: list[str]) -> int:
    """Instructions the process executes (valgrind's `I refs`), after one run to warm the caches."""
    env = {**ENVIRONMENT, "PYTHONHASHSEED": "0"}
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = subprocess.run(VALGRIND + command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    return instructions_in(done.stderr)


def instructions_in(report: str) -> int:
    """The instruction count in cachegrind's summary (`==123== I   refs:      1,184,284,733`)."""
    found = re.search(r"I\s+refs:\s+([\d,]+)", report)
    if found is None:
        raise RuntimeError(f"valgrind printed no instruction count:\n{report[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default="resnet152", help="the one spec checked (default resnet152)")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install -y valgrind)", file=sys.stderr)
        return 2
    cmds = commands(args.spec)
    names = list(cmds)[:3]  # the A/A control counts what import torch counts
    counts = {name: count(cmds[name]) for name in names}
    torch, one, every = (counts[name] for name in names)
    print("| command | instructions (millions) |\n|---|---:|")
    for name in names:
        print(f"| `{name}` | {counts[name] / 1e6:,.1f} |")
    print(f"\none spec / import torch: {one / torch:.3f}; every spec / one spec: {every / one:.3f}; "
          f"the work of the specs after the first: {(every - one) / 1e6:,.1f} million")
    return 0


if __name__ == "__main__":
    sys.exit(main())
