"""Section 4, CUDA: images per second at a large batch and latency at batch 1 for spec-built
models and their references, under eager and torch.compile modes, fp32 (TF32) and bf16
autocast, NCHW and channels-last; each as a fraction of the GPU's measured bf16 matmul peak.

Every compiled model's output is compared with the same model's eager output at the same
precision and layout. One failing setting (out of memory, a compiler error) is recorded in
its row and the run goes on.
"""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from bench import warm
from bench.budget import Budget, Estimates
from bench.eager import pair
from bench.frontend import spec_name
from bench.timing import interleave, median, seconds

MODELS = ("resnet50", "resnext50_32x4d", "res2net50_26w_4s", "densenet121")
PRECISIONS = ("tf32", "bf16")
LAYOUTS = ("nchw", "channels_last")
MODES = ("eager", "default", "reduce-overhead", "max-autotune")
TOLERANCE = {"tf32": 1e-2, "bf16": 5e-2}  # compiled vs eager, relative L2


@dataclass(frozen=True)
class Setting:
    mode: str  # "eager" or a torch.compile mode
    precision: str  # "tf32": fp32 with TF32 matmuls and convolutions; "bf16": bf16 autocast
    layout: str


@dataclass(frozen=True)
class GpuPlan:
    device: str
    image: int
    batch: int
    rounds: int
    throughput_calls: int  # forwards per timed call at `batch`
    latency_calls: int  # forwards per timed call at batch 1
    settings: tuple[Setting, ...]


def settings(grid: str) -> tuple[Setting, ...]:
    """"full": every combination; "default": all eager ones and the compiled ones that matter;
    "quick": eager and the default compile of the fast path. In the order they run, which is the
    order of importance, so that a run cut short by its time budget has measured the first ones."""
    if grid == "full":
        return tuple(Setting(m, p, l) for m in MODES for p in PRECISIONS for l in LAYOUTS)
    fast = ("bf16", "channels_last")
    plain = ("tf32", "nchw")
    if grid == "quick":
        return (Setting("eager", *plain), Setting("eager", *fast), Setting("default", *fast),
                Setting("eager", "tf32", "channels_last"), Setting("eager", "bf16", "nchw"))
    return (Setting("eager", *plain), Setting("eager", *fast), Setting("default", *fast), Setting("default", *plain),
            Setting("reduce-overhead", *fast), Setting("eager", "tf32", "channels_last"),
            Setting("eager", "bf16", "nchw"), Setting("max-autotune", *fast))


def matmul_peak(device: str, n: int = 8192, repeats: int = 3) -> float:
    """The best measured bf16 matmul rate, in FLOP/s, over a few timed runs of an n x n x n product."""
    a, b = (torch.randn(n, n, device=device, dtype=torch.bfloat16) for _ in range(2))
    best = min(seconds(lambda: [a @ b for _ in range(10)], _sync(device)) for _ in range(repeats + 1)) / 10
    return 2 * n ** 3 / best


def _sync(device: str):
    return torch.cuda.synchronize if device.startswith("cuda") else None


def jobs(plan: GpuPlan) -> list[tuple[Setting, int]]:
    """(setting, batch) in the order they run: the plan's settings in order, each at the large batch and
    then at batch 1, so that a run cut short by its budget has measured what matters most."""
    return [(setting, batch) for setting in plan.settings for batch in (plan.batch, 1)]


@dataclass
class Prepared:
    """A spec model, its reference and a copy of the reference (the A/A control), holding the same
    weights, on the plan's device."""

    path: Path
    spec: torch.nn.Module
    reference: torch.nn.Module
    copy: torch.nn.Module
    origin: str
    macs: int


def prepare(path: Path, plan: GpuPlan) -> Prepared:
    from archdsl import load
    from archdsl.backends.summary.costs import total_macs

    macs = total_macs(load(path, input_size=(plan.image, plan.image)))
    ours, ref, origin, _ = pair(path, plan.device)
    return Prepared(path, ours, ref, copy.deepcopy(ref), origin, macs)


def run(paths: list[Path], plan: GpuPlan, peak: float, budget: Budget | None = None,
        warm_workers: int = 0, on_rows=None) -> list[dict]:
    """Every (setting, batch) of `plan` for every spec model in `paths` and its reference, setting by
    setting. With `warm_workers`, the compiled settings are first compiled in that many parallel
    processes to fill torch.compile's on-disk cache (their cold compile times are kept in the rows).
    A job that no longer fits in `budget` gets a row saying so. `on_rows(rows)` follows every job."""
    budget = budget or Budget(None)
    prepared = [prepare(path, plan) for path in paths]
    cold = warm.warm_cache(paths, jobs(plan), plan, warm_workers, budget)
    estimates = Estimates(_first_guesses(cold))
    rows = []
    for setting, batch in jobs(plan):
        torch._dynamo.reset()
        for model in prepared:
            row = {"spec": spec_name(model.path), "reference": model.origin, "batch": batch, **asdict(setting)}
            keys = [(k, row["spec"], setting, batch) for k in ("spec", "reference")]
            kind = _kind(setting, all(key in cold for key in keys))
            if not budget.allows(estimates[kind]):
                row["skipped"] = f"time budget ({budget.left():.0f} s left, {estimates[kind]:.0f} s expected)"
            else:
                started = time.perf_counter()
                row.update(_measured(model, setting, batch, plan, peak))
                estimates.record(kind, time.perf_counter() - started)
                row.update({f"{key[0]}_cold_compile_s": cold[key] for key in keys if key in cold})
            rows.append(row)
            if on_rows is not None:
                on_rows(rows)
    return rows


def _kind(setting: Setting, warmed: bool) -> str:
    """What a job's time is estimated from: the jobs of the same kind run before it in this run."""
    if setting.mode in ("eager", "max-autotune"):
        return setting.mode
    return "compile, warm cache" if warmed else "compile, cold cache"


def _first_guesses(cold: dict) -> dict[str, float]:
    """Expected seconds of a job before any of its kind has run: a compile finding the cache warm
    took well under a third of the cold one in trials; a cold compile is guessed generously."""
    return {"eager": 10.0, "compile, warm cache": 10 + 0.3 * max(cold.values(), default=60),
            "compile, cold cache": 90.0, "max-autotune": 240.0}


def _measured(model: Prepared, setting: Setting, batch: int, plan: GpuPlan, peak: float) -> dict:
    try:
        row = _measure(model, setting, batch, plan)
        row["peak_fraction"] = {k: 2 * model.macs * row[f"{k}_img_s"] / peak for k in ("spec", "reference")}
        return row
    except Exception as exc:  # keep going: one setting failing must not lose the rest
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return {"error": f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:160]}"}


def inputs(setting: Setting, batch: int, image: int, device: str):
    """The input of a (setting, batch) job, in the setting's memory layout."""
    return torch.randn(batch, 3, image, image, device=device).to(memory_format=memory_format(setting))


def memory_format(setting: Setting):
    """The torch memory format of the setting's layout."""
    return torch.channels_last if setting.layout == "channels_last" else torch.contiguous_format


def _measure(model: Prepared, setting: Setting, batch: int, plan: GpuPlan) -> dict:
    """Spec model, reference and the A/A control timed in interleaved rounds: img/s and ms of each,
    spec/ref and copy/ref. The control is a copy of the reference (its own memory) in eager mode and
    the compiled reference itself in a compiled mode, which spares a third compile."""
    x = inputs(setting, batch, plan.image, plan.device)
    layout = memory_format(setting)
    models = {k: getattr(model, k).to(memory_format=layout) for k in ("spec", "reference", "copy")}
    with precision(setting.precision, plan.device), torch.inference_mode():
        result = {}
        if setting.mode != "eager":
            for k in ("spec", "reference"):
                models[k], result[f"{k}_compile_s"], result[f"{k}_error"] = compiled_checked(
                    models[k], setting, x, label=k)
            models["copy"] = models["reference"]  # compiled, the control times the same code twice
        calls = plan.throughput_calls if batch == plan.batch else plan.latency_calls
        run = {k: _runner(m, x, calls, setting.mode) for k, m in models.items()}
        for fn in run.values():
            fn()
        times = interleave(run, plan.rounds, _sync(plan.device))
    for k in models:
        per_call = median(times[k]) / calls
        result[f"{k}_img_s"], result[f"{k}_ms"] = batch / per_call, 1e3 * per_call
    result["ratio"] = result["spec_img_s"] / result["reference_img_s"]
    result["control"] = result["copy_img_s"] / result["reference_img_s"]
    return result


def compiled_checked(model, setting: Setting, x, label: str = "the"):
    """(model compiled in the setting's mode, the first call's seconds, relative distance of its output
    from eager). Call inside `precision(...)` and inference mode; raises if the outputs disagree."""
    eager_out = model(x).float()
    compiled = torch.compile(model, mode=setting.mode, dynamic=False)
    start = time.perf_counter()
    out = _call(compiled, x, setting.mode).float()
    seconds_taken = time.perf_counter() - start
    error = float((out - eager_out).norm() / eager_out.norm())
    if not error <= TOLERANCE[setting.precision]:
        raise AssertionError(f"{label} compiled output differs from eager by {error:.1e} (relative)")
    return compiled, seconds_taken, error


def _call(model, x, mode: str):
    if mode == "reduce-overhead":
        torch.compiler.cudagraph_mark_step_begin()  # each call may reuse the CUDA graph's output memory
    return model(x)


def _runner(model, x, calls: int, mode: str):
    def run():
        for _ in range(calls):
            _call(model, x, mode)
    return run


def precision(precision: str, device: str):
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    if precision == "bf16":
        return torch.autocast(device.split(":")[0], dtype=torch.bfloat16)
    return contextlib.nullcontext()
