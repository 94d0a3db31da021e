"""Check time against spec size: `python3 bench/check_scaling.py [--repeats N] [--no-save]`.

Three families of generated specs, each from about 1,000 words and symbols up to the parser's
limit (archdsl.syntax.layout.MAX_TOKENS; one more is E0504):

- `correct`: a chain of named layers, each taking the one before by name (checks clean);
- `unknown values`: D named layers, then R references to misspelt names (every one E0204 with a
  "did you mean" search among all D names; D:R = 3:2, the ratio that maximises D x R);
- `unknown params`: P parameters, then U layers using misspelt ones (E0205; P:U = 1:2).

Each spec is checked in process by `archdsl.api.analyse` (parse, elaborate, verify), the median
of --repeats runs. Prints a Markdown table, saves bench/results/check_scaling.json and rewrites
docs/performance.md (its "Check time against spec size" section) unless --no-save. Not a timed
test: on a shared machine the figures move with the load, which the results file records.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archdsl.api import analyse  # noqa: E402
from archdsl.diagnostics import Source  # noqa: E402
from archdsl.syntax.layout import MAX_TOKENS  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "check_scaling.json"
#: the worst case at the token limit must check within this (seconds, on the 2-core development machine)
GOAL_SECONDS = 2.0
SIZES = (1_000, 2_500, 5_000, 10_000, MAX_TOKENS)
_TOKEN = re.compile(r"[A-Za-z0-9_.]+|//|[-+*]|[][(),=/]")


def tokens(text: str) -> int:
    """Words and symbols as the size limit counts them (comments aside; the specs here have none)."""
    return len(_TOKEN.findall(text))


def correct(budget: int) -> str:
    """`input` and a chain `aN relu from aN-1` (4 tokens a line), every name used: checks clean."""
    lines = ["input 3x8x8", "a0 relu", *(f"a{n} relu from a{n - 1}" for n in range(1, (budget - 4) // 4 + 1))]
    return "\n".join(lines) + "\n"


def unknown_values(budget: int) -> str:
    """D layers `abcdefghN relu` (2 tokens), then R lines `relu from abcdefgxN` (3), D:R = 3:2."""
    defined = (budget - 2) // 4
    used = (budget - 2 - 2 * defined) // 3
    lines = ["input 3x8x8", *(f"abcdefgh{i} relu" for i in range(defined)),
             *(f"relu from abcdefgx{i}" for i in range(used))]
    return "\n".join(lines) + "\n"


def unknown_params(budget: int) -> str:
    """P lines `param abcdefghN = 4` (4 tokens), then U lines `linear abcdefgxN` (2), P:U = 1:2."""
    declared = (budget - 2) // 8
    used = (budget - 2 - 4 * declared) // 2
    lines = ["input 3x8x8", *(f"param abcdefgh{i} = 4" for i in range(declared)),
             *(f"linear abcdefgx{i}" for i in range(used))]
    return "\n".join(lines) + "\n"


FAMILIES = {"correct": correct, "unknown values": unknown_values, "unknown params": unknown_params}


def measure(text: str, repeats: int) -> dict:
    """Median seconds of `repeats` checks of `text`, with the size and what the check found."""
    source = Source("scaling.arch", text)
    times, found = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        _, diagnostics = analyse(source)
        times.append(time.perf_counter() - started)
        found = diagnostics
    assert not any(d.code == "E0504" for d in found), "a generated spec passed the token limit"
    errors = sum(d.is_error for d in found)
    return {"tokens": tokens(text), "bytes": len(text.encode()), "seconds": round(statistics.median(times), 4),
            "errors": errors, "hints": sum("did you mean" in d.help for d in found)}


def run(repeats: int) -> dict:
    rows = []
    for family, make in FAMILIES.items():
        for size in SIZES:
            row = {"family": family, **measure(make(size), repeats)}
            rows.append(row)
            print(f"{family:15} {row['tokens']:>6} tokens {row['seconds']:>8.3f} s", file=sys.stderr)
    return {"environment": environment(repeats), "goal_seconds": GOAL_SECONDS, "rows": rows}


def environment(repeats: int) -> dict:
    return {"date": datetime.date.today().isoformat(), "python": platform.python_version(),
            "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "load average at start": round(os.getloadavg()[0], 2), "repeats (median)": repeats,
            "token limit": MAX_TOKENS}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3, help="checks per spec; the median is kept (default 3)")
    p.add_argument("--no-save", action="store_true", help="print only: leave the results file and the page alone")
    args = p.parse_args(argv)
    result = run(args.repeats)
    from bench import report

    print(report.check_scaling(result))
    if not args.no_save:
        RESULTS.write_text(json.dumps(result, indent=1) + "\n")
        from bench.run import write_document

        write_document(ROOT / "docs" / "performance.md")
    worst = max(r["seconds"] for r in result["rows"])
    return 0 if worst < GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
