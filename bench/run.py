"""The benchmark, one command: `python3 bench/run.py [--quick]`.

Runs the front-end, build and eager sections on any machine and the GPU section where CUDA
is available; prints this run's Markdown, saves its figures to bench/results/<cpu|cuda>.json
and writes docs/performance.md from every results file there.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench import building, eager, frontend, gpu, report  # noqa: E402
from bench.budget import Budget  # noqa: E402
from bench.references import has_reference  # noqa: E402
from archdsl.zoo import is_library  # noqa: E402

RESULTS = ROOT / "bench" / "results"
GRAPHS = RESULTS / "graphs.json"  # written by bench/graphs.py --save
SCALING = RESULTS / "check_scaling.json"  # written by bench/check_scaling.py
FAMILIES = RESULTS / "families.json"  # written by bench/families.py
TRANSFORMERS = RESULTS / "transformers.json"  # written by bench/families.py --transformers
STARTUP = RESULTS / "startup.json"  # written by bench/startup.py --save
QUICK_EAGER = ("resnet50", "resnext50_32x4d", "res2net50_26w_4s", "densenet121", "seresnet50")
EAGER_SHARE = 0.25  # of a --budget: section 3 starts no model after this much of it is spent


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.render:
        write_document(args.out)
        return 0
    cuda = torch.cuda.is_available() and not args.gpu_dry_run
    device = "cuda" if cuda else "cpu"
    budget = Budget(args.budget)
    specs = sorted(p for p in (ROOT / "specs").rglob("*.arch") if not is_library(p))  # networks, not block libraries
    result = {"environment": environment(args, cuda), "complete": False}
    save = Saver(args.results / f"{device}.json", result, enabled=not args.gpu_dry_run)
    if not args.gpu_dry_run:
        say("1. front end")
        result["frontend"] = {"repeats": args.repeats, "specs": frontend.parse_check(specs, args.repeats),
                              "process": frontend.processes(ROOT / "specs" / "resnet152.arch", args.process_repeats)}
        save()
        say("2. build")
        result["build"] = {"repeats": args.repeats // 2 or 1, "specs": building.build_times(specs, args.repeats // 2 or 1)}
        save()
        say("3. eager forward")
        result["eager"] = eager_section(args, device, eager_specs(args, specs, cuda), budget)
        save()
        if device == "cpu" and set_malloc_keeps_memory():
            say("3b. eager forward, malloc keeping freed memory")
            result["eager_tuned_malloc"] = eager_section(args, device, eager_specs(args, specs, cuda), budget)
            save()
    result["gpu"] = gpu_section(args, cuda, budget, save)
    if args.gpu_dry_run:
        print(report.gpu(result["gpu"]))
        return 0
    result["complete"] = True
    result["environment"]["wall time (s)"] = round(budget.spent())
    save()
    print(report.machine(result))
    if args.results == RESULTS:
        write_document(args.out)
    say(f"wrote {save.path}")
    return 0


class Saver:
    """Writes the results file after every section and GPU job, so that a run ended early (a lease
    running out) leaves what it measured, marked incomplete."""

    def __init__(self, path: Path, result: dict, enabled: bool = True):
        self.path, self.result, self.enabled = path, result, enabled

    def __call__(self) -> None:
        if self.enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.result, indent=1) + "\n")


def stored_results() -> tuple:
    """(every machine's results, the graph comparison, check time against spec size, the families, start-up,
    the transformers) as stored in bench/results/."""
    kept = (GRAPHS, SCALING, FAMILIES, STARTUP, TRANSFORMERS)
    machines = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json")) if p not in kept]
    optional = [json.loads(p.read_text()) if p.exists() else None for p in kept]
    return machines, *optional


def write_document(out: Path) -> None:
    """docs/performance.md from bench/NOTES.md and every results file in bench/results/."""
    out.write_text(report.document(*stored_results()) + "\n")
    say(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer repeats and models (a few minutes on 2 CPU cores)")
    p.add_argument("--models", help="comma-separated specs for sections 3 and 4 (default: a set per mode)")
    p.add_argument("--grid", choices=("quick", "default", "full"), help="GPU settings to run (default: quick "
                   "with --quick, else default; full is every mode x precision x layout)")
    p.add_argument("--gpu-dry-run", action="store_true",
                   help="run section 4's code on the CPU at toy sizes, to check it works (on the quick grid unless "
                        "--grid is given); prints, writes nothing")
    p.add_argument("--render", action="store_true",
                   help="measure nothing: rewrite --out from bench/NOTES.md and the stored results")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    p.add_argument("--results", type=Path, default=RESULTS,
                   help="folder for this run's results file (default bench/results; elsewhere, the page is not rewritten)")
    p.add_argument("--budget", type=float, metavar="SECONDS",
                   help="end within about this many seconds: section 3 starts no model after 25%% of it, and "
                        "section 4 runs its settings in order while they fit, listing the rest as not run")
    p.add_argument("--warm-workers", type=int, metavar="N",
                   help="processes compiling section 4's compiled settings in parallel first, to fill "
                        "torch.compile's cache (default: half the CPU cores on CUDA, none on a dry run)")
    args = p.parse_args(argv)
    args.repeats, args.process_repeats = (10, 7) if args.quick else (30, 15)
    args.grid_given = args.grid is not None
    args.grid = args.grid or ("quick" if args.quick else "default")
    return args


def say(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def eager_specs(args, specs: list[Path], cuda: bool) -> list[Path]:
    """Every spec with a reference, the five of QUICK_EAGER first (with --quick on a CPU, only those)."""
    names = args.models.split(",") if args.models else QUICK_EAGER if args.quick and not cuda else None
    chosen = [p for p in specs if has_reference(frontend.spec_name(p))]
    chosen.sort(key=lambda p: frontend.spec_name(p) not in QUICK_EAGER)
    return chosen if names is None else [p for p in chosen if frontend.spec_name(p) in names]


def eager_section(args, device: str, specs: list[Path], budget: Budget) -> dict:
    if device == "cuda":
        settings = eager.EagerSettings("cuda", 224, 64, 11 if args.quick else 15, 7 if args.quick else 10,
                                       latency_calls=10 if args.quick else 20, throughput_calls=3)
    else:
        settings = eager.EagerSettings("cpu", 224, 8, 12 if args.quick else 20, 6 if args.quick else 10, 1, 1)
    models = []
    for path in specs:
        if budget.past_share(EAGER_SHARE):
            models.append({"spec": frontend.spec_name(path), "skipped": "time budget"})
            continue
        say(f"   {frontend.spec_name(path)}")
        models.append(eager.compare(path, settings))
    return {"settings": vars(settings), "models": models}


def set_malloc_keeps_memory() -> bool:
    """Tell glibc malloc to keep freed memory instead of returning it to the system (and paging it
    in afresh on the next allocation); False where this is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_trim_threshold, 2 ** 31 - 1) and libc.mallopt(m_mmap_threshold, 2 ** 25))


def gpu_section(args, cuda: bool, budget: Budget, save) -> dict:
    if not cuda and not args.gpu_dry_run:
        return {"skipped": "no CUDA device on this machine (torch.cuda.is_available() is False)"}
    names = args.models.split(",") if args.models else gpu.MODELS
    if cuda:
        plan = gpu.GpuPlan("cuda", 224, 256, 5 if args.quick else 10, 2 if args.quick else 3,
                           30 if args.quick else 100, gpu.settings(args.grid))
        device_name = torch.cuda.get_device_name()
    else:
        plan = gpu.GpuPlan("cpu", 64, 4, 2, 1, 1, gpu.settings(args.grid if args.grid_given else "quick"))
        device_name = "CPU dry run: toy sizes, not a GPU measurement"
    say("4. GPU: bf16 matmul peak")
    peak = gpu.matmul_peak(plan.device, 8192 if cuda else 512)
    section = {"device_name": device_name, "peak_tflops": peak / 1e12,
               "plan": {**vars(plan), "settings": [vars(s) for s in plan.settings]}, "rows": []}
    save.result["gpu"] = section
    workers = args.warm_workers if args.warm_workers is not None else (max(1, (os.cpu_count() or 1) // 2) if cuda else 0)
    section["warm_workers"] = workers

    def progress(rows: list[dict]) -> None:
        section["rows"] = rows
        say(f"4. GPU: {rows[-1]['spec']} {rows[-1]['mode']} {rows[-1]['precision']} {rows[-1]['layout']} "
            f"b{rows[-1]['batch']}: {rows[-1].get('error') or rows[-1].get('skipped') or 'measured'}")
        save()

    say(f"4. GPU: {len(names)} models, {len(plan.settings)} settings, {workers} compile-cache workers")
    gpu.run([ROOT / "specs" / f"{name}.arch" for name in names], plan, peak, budget, workers, progress)
    return section


def environment(args, cuda: bool) -> dict:
    env = {
        "machine": torch.cuda.get_device_name() if cuda else f"CPU only: {cpu_model()}",
        "cpu": cpu_model(), "cpu cores (os.cpu_count)": os.cpu_count(), "torch threads": torch.get_num_threads(),
        "python": platform.python_version(), "torch": torch.__version__, "os": platform.platform(),
        "archdsl commit": git_commit(), "date (UTC)": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "run": "python3 bench/run.py" + (" --quick" if args.quick else "") + (f" --grid {args.grid}" if args.grid_given else "")
               + (f" --budget {args.budget:g}" if args.budget else ""),
        "cuda": cuda,
    }
    if cuda:
        env.update({"CUDA": torch.version.cuda, "cuDNN": torch.backends.cudnn.version(),
                    "TF32 (matmul, cudnn) in sections 1-3": (torch.backends.cuda.matmul.allow_tf32,
                                                             torch.backends.cudnn.allow_tf32),
                    "TF32 in section 4": "on throughout (the fp32 rows are labelled tf32)"})
    return env | reference_packages()


def reference_packages() -> dict[str, str]:
    """The versions of torchvision and timm, the references where importable."""
    versions = {}
    for package in ("torchvision", "timm"):
        try:
            versions[package] = __import__(package).__version__
        except ImportError:
            versions[package] = "not importable"
    return versions


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str:
    """HEAD, marked when the code measured (archdsl, compiler, bench) differs from it; where there is no
    git checkout (a copy of the tree sent to a lent machine), $ARCHDSL_COMMIT as given by the sender."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        changed = subprocess.run(["git", "status", "--porcelain", "--", "archdsl", "compiler", "bench/*.py"],
                                 cwd=ROOT, capture_output=True, text=True)
    except OSError:
        head = changed = None
    if head is None or head.returncode != 0:
        return os.environ.get("ARCHDSL_COMMIT", "unknown") + " (no git checkout where it ran)"
    return head.stdout.strip() + (" with uncommitted changes" if changed.stdout.strip() else "")


if __name__ == "__main__":
    sys.exit(main())
