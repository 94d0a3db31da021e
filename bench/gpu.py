"""Section 4, CUDA: images per second at a large batch and latency at batch 1 for spec-built
models and their references, under eager and torch.compile modes, fp32 (TF32) and bf16
autocast, NCHW and channels-last; each as a fraction of the GPU's measured bf16 matmul peak.

Every compiled model's output is compared with the same model's eager output at the same
precision and layout. One failing setting (out of memory, a compiler error) is recorded in
its row and the run goes on.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

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
    "quick": eager and the default compile of the fast path."""
    if grid == "full":
        return tuple(Setting(m, p, l) for m in MODES for p in PRECISIONS for l in LAYOUTS)
    eager = tuple(Setting("eager", p, l) for p in PRECISIONS for l in LAYOUTS)
    fast = ("bf16", "channels_last")
    if grid == "quick":
        return eager + (Setting("default", *fast),)
    return eager + (Setting("default", "tf32", "nchw"), Setting("default", *fast),
                    Setting("max-autotune", *fast), Setting("reduce-overhead", *fast))


def matmul_peak(device: str, n: int = 8192, repeats: int = 3) -> float:
    """The best measured bf16 matmul rate, in FLOP/s, over a few timed runs of an n x n x n product."""
    a, b = (torch.randn(n, n, device=device, dtype=torch.bfloat16) for _ in range(2))
    best = min(seconds(lambda: [a @ b for _ in range(10)], _sync(device)) for _ in range(repeats + 1)) / 10
    return 2 * n ** 3 / best


def _sync(device: str):
    return torch.cuda.synchronize if device.startswith("cuda") else None


def run_model(path: Path, plan: GpuPlan, peak: float) -> list[dict]:
    """Every setting of `plan` for the spec model at `path` and its reference."""
    from archdsl import load
    from compiler.summary.costs import total_macs

    macs = total_macs(load(path, input_size=(plan.image, plan.image)))
    ours, ref, origin, difference = pair(path, plan.device)
    rows = []
    for setting in plan.settings:
        torch._dynamo.reset()
        for batch in (plan.batch, 1):
            row = {"spec": spec_name(path), "reference": origin, "batch": batch, **asdict(setting)}
            try:
                row.update(_measure(ours, ref, setting, batch, plan))
                row["peak_fraction"] = {k: 2 * macs * row[f"{k}_img_s"] / peak for k in ("spec", "reference")}
            except Exception as exc:  # keep going: one setting failing must not lose the rest
                row["error"] = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:160]}"
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
            rows.append(row)
    return rows


def _measure(ours, ref, setting: Setting, batch: int, plan: GpuPlan) -> dict:
    layout = torch.channels_last if setting.layout == "channels_last" else torch.contiguous_format
    x = torch.randn(batch, 3, plan.image, plan.image, device=plan.device).to(memory_format=layout)
    models = {"spec": ours.to(memory_format=layout), "reference": ref.to(memory_format=layout)}
    with _precision(setting.precision, plan.device), torch.inference_mode():
        eager_out = {k: m(x).float() for k, m in models.items()}
        result = {}
        if setting.mode != "eager":
            models, result = _compiled(models, setting.mode, x, eager_out, setting.precision)
        calls = plan.throughput_calls if batch == plan.batch else plan.latency_calls
        run = {k: _runner(m, x, calls, setting.mode) for k, m in models.items()}
        for fn in run.values():
            fn()
        times = interleave(run, plan.rounds, _sync(plan.device))
    for k in models:
        per_call = median(times[k]) / calls
        result[f"{k}_img_s"], result[f"{k}_ms"] = batch / per_call, 1e3 * per_call
    result["ratio"] = result["spec_img_s"] / result["reference_img_s"]
    return result


def _compiled(models: dict, mode: str, x, eager_out: dict, precision: str):
    """The models compiled in `mode`, the first call's time, and their outputs' distance from eager."""
    compiled, result = {}, {}
    for k, m in models.items():
        compiled[k] = torch.compile(m, mode=mode, dynamic=False)
        start = time.perf_counter()
        out = _call(compiled[k], x, mode).float()
        result[f"{k}_compile_s"] = time.perf_counter() - start
        error = float((out - eager_out[k]).norm() / eager_out[k].norm())
        result[f"{k}_error"] = error
        if not error <= TOLERANCE[precision]:
            raise AssertionError(f"{k} compiled output differs from eager by {error:.1e} (relative)")
    return compiled, result


def _call(model, x, mode: str):
    if mode == "reduce-overhead":
        torch.compiler.cudagraph_mark_step_begin()  # each call may reuse the CUDA graph's output memory
    return model(x)


def _runner(model, x, calls: int, mode: str):
    def run():
        for _ in range(calls):
            _call(model, x, mode)
    return run


def _precision(precision: str, device: str):
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    if precision == "bf16":
        return torch.autocast(device.split(":")[0], dtype=torch.bfloat16)
    return contextlib.nullcontext()
