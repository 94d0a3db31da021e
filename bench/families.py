"""Eager CPU forward of the modern torchvision families against torchvision's own modules, and the
check time of the largest new spec: `python3 bench/families.py [--rounds N] [--no-save] [--transformers]`.
With `--transformers`, the transformers instead (vit_b_16, swin_t, maxvit_t), saved apart.

Each bundled network (mobilenet_v2, efficientnet_b0, regnet_y_400mf, convnext_tiny) is built by
name, given the same weights as torchvision's module (the spec's state_dict loaded into it,
strict), checked to agree, and timed against it in the same process, interleaved, with a second
copy of torchvision's module as the A/A control (bench/eager.py's method). torchvision must be
importable; where its compiled ops do not load (CPU-only torch), its model files are loaded by
the development loaders in ../shared/tools (or the folder ARCHDSL_REFERENCE_TOOLS names). Then `archdsl compile regnet_y_128gf --check` as a whole
process against `python3 -c "import torch"`, medians of 5. Prints a table, saves
bench/results/families.json and rewrites docs/performance.md unless --no-save. Not a timed test.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import archdsl  # noqa: E402
from bench.eager import EagerSettings, _timed, randomize_norms  # noqa: E402
from bench.report import table  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "families.json"
MODELS = ("mobilenet_v2", "efficientnet_b0", "regnet_y_400mf", "convnext_tiny")
TRANSFORMER_RESULTS = ROOT / "bench" / "results" / "transformers.json"
TRANSFORMERS = ("vit_b_16", "swin_t", "maxvit_t")
LARGEST = "regnet_y_128gf"
#: the check of the largest new spec must take under this share of `import torch`
CHECK_GOAL = 0.5


@functools.cache
def _torchvision_builder():
    """torchvision's `get_model`, from the package or, where it cannot import, from its files; decided
    once, since the file loader puts stand-ins for torchvision's modules in `sys.modules`."""
    try:
        import torchvision.models

        return lambda name: torchvision.models.get_model(name, weights=None)
    except (ImportError, RuntimeError):
        sys.path.insert(0, os.environ.get("ARCHDSL_REFERENCE_TOOLS", str(ROOT.parent / "shared" / "tools")))
        import refload2

        return refload2.reference


def torchvision_model(name: str):
    """torchvision's module for `name`."""
    return _torchvision_builder()(name)


def compare(name: str, settings: EagerSettings) -> dict:
    ours = archdsl.build(name).eval()
    randomize_norms(ours)
    ref = torchvision_model(name).eval()
    ref.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 3, settings.image, settings.image, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        a, b = ours(x), ref(x)
    difference = float((a - b).norm() / b.norm())
    import copy

    models = {"spec": ours, "reference": ref, "copy": copy.deepcopy(ref)}
    row = {"spec": name, "difference": difference}
    for label, batch, rounds, calls in (("latency", 1, settings.latency_rounds, settings.latency_calls),
                                        ("throughput", settings.batch, settings.throughput_rounds,
                                         settings.throughput_calls)):
        row[label] = _timed(models, batch, rounds, calls, settings, None)
    return row


def process_seconds(command: list[str], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def check_time() -> dict:
    check = process_seconds([sys.executable, "-m", "archdsl", "compile", LARGEST, "--check"])
    imports = process_seconds([sys.executable, "-c", "import torch"])
    return {"spec": LARGEST, "check_s": check, "import_torch_s": imports, "share": check / imports,
            "goal": CHECK_GOAL}


def run(rounds: int, models=MODELS, check: bool = True) -> dict:
    settings = EagerSettings(device="cpu", image=224, batch=8, latency_rounds=rounds, throughput_rounds=rounds,
                             latency_calls=2, throughput_calls=1)
    bundled = set(archdsl.list_models())
    rows = [compare(name, settings) if name in bundled else {"spec": name, "error": "not bundled"}
            for name in models]
    return {"rows": rows, "check": check_time() if check and LARGEST in bundled else None, "environment": {
        "date": datetime.date.today().isoformat(), "python": platform.python_version(), "torch": torch.__version__,
        "cpus": os.cpu_count(), "threads": torch.get_num_threads(), "rounds": rounds,
        "load average at start": round(os.getloadavg()[0], 2)}}


def section(result: dict, title: str = "Modern torchvision families, eager CPU",
            command: str = "python3 bench/families.py") -> str:
    """The part of docs/performance.md these figures make."""
    body = []
    for r in result["rows"]:
        if "error" in r:
            body.append([r["spec"], r["error"], "", "", ""])
            continue
        cells = [r["spec"], f"{r['difference']:.1e}"]
        for label in ("latency", "throughput"):
            t = r[label]
            low, high = t["ratio_quartiles"]
            cells.append(f"b{t['batch']}: {t['ratio']:.3f} ({low:.3f}-{high:.3f}), A/A {t['copy']:.3f}")
        cells.append(f"{r['latency']['spec_ms']:.1f} / {r['latency']['reference_ms']:.1f} ms")
        body.append(cells)
    env = result["environment"]
    lines = [f"## {title}", "",
             f"`{command}`: each spec model against torchvision's module holding the same weights, "
             "interleaved in one process; the ratio is torchvision's time / the spec model's (above 1: ours is "
             "faster), median and quartiles over the rounds, with torchvision's module against a copy of itself "
             "(A/A) as the control. The goal: within the control's spread.", "",
             table(["spec", "difference", "batch 1 ratio", "batch 8 ratio", "b1 spec / torchvision"], body), ""]
    check = result.get("check")
    if check:
        verdict = "met" if check["share"] < check["goal"] else "NOT met"
        lines += [f"Checking the largest new spec, `archdsl compile {check['spec']} --check` (a whole process): "
                  f"{check['check_s']:.2f} s, against {check['import_torch_s']:.2f} s for `import torch`: "
                  f"**{check['share']:.2f}x** (goal under {check['goal']}x: {verdict}).", ""]
    lines.append(f"Measured {env['date']}, Python {env['python']}, torch {env['torch']}, {env['cpus']} CPUs, "
                 f"{env['threads']} threads, {env['rounds']} rounds, load average {env['load average at start']} "
                 "at the start.")
    return "\n".join(lines)


def transformer_section(result: dict) -> str:
    return section(result, "Transformers, eager CPU", "python3 bench/families.py --transformers")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--transformers", action="store_true", help="vit_b_16, swin_t and maxvit_t instead")
    args = parser.parse_args(argv)
    if args.transformers:
        result = run(args.rounds, TRANSFORMERS, check=False)
        print(transformer_section(result))
    else:
        result = run(args.rounds)
        print(section(result))
    if not args.no_save:
        (TRANSFORMER_RESULTS if args.transformers else RESULTS).write_text(json.dumps(result, indent=1) + "\n")
        subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--render"], check=True, cwd=ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
