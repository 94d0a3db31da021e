"""Section 3, eager forward: each spec-built model against its reference implementation,
holding the same weights, checked to agree, then timed in the same process, interleaved.

The ratio is reference time / spec-model time per round (above 1: the generated code is
faster), summarised by its median and quartiles over the rounds. A second copy of the
reference (its own parameter memory) is timed alongside as a control: the reference / copy
ratio of two identical models shows how far the machine alone moves a ratio. So is the
reference traced by torch.fx (fx's generated code calling the reference's modules): the
reference / traced ratio is what fx's code style alone costs or gains, archdsl aside.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.frontend import spec_name
from bench.references import reference
from bench.timing import interleave, median, quartiles, ratios

AGREEMENT = 1e-4  # relative L2 difference of the logits allowed between spec model and reference


@dataclass(frozen=True)
class EagerSettings:
    device: str
    image: int  # H = W
    batch: int  # the throughput batch; latency is measured at batch 1
    latency_rounds: int
    throughput_rounds: int
    latency_calls: int  # forwards per timed call at batch 1 (more on GPUs, where one is short)
    throughput_calls: int  # forwards per timed call at the throughput batch


def randomize_norms(model: torch.nn.Module, seed: int = 0) -> None:
    """Give every batch norm non-trivial running statistics and affine terms, so an eval forward
    exercises all of them (the usual init leaves them at 0 and 1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                for tensor, low in ((m.running_var, 0.5), (m.weight, 0.8)):
                    tensor.copy_(low + 0.5 * torch.rand(tensor.shape, generator=g))
                for tensor in (m.running_mean, m.bias):
                    tensor.copy_(0.1 * torch.randn(tensor.shape, generator=g))


def pair(path: Path, device: str, hand_written: bool = False):
    """(spec model, reference, reference's origin, relative difference of their logits): same weights, eval."""
    import archdsl

    graph = archdsl.load(path)
    torch.manual_seed(0)
    ours = archdsl.build(graph).eval()
    randomize_norms(ours)
    ref, origin = reference(spec_name(path), graph.output_type.channels, hand_written)
    ref.load_state_dict(ours.state_dict(), strict=True)
    ours, ref = ours.to(device), ref.eval().to(device)
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1)).to(device)
    with torch.inference_mode():
        a, b = ours(x).float(), ref(x).float()
    return ours, ref, origin, float((a - b).norm() / b.norm())


def compare(path: Path, settings: EagerSettings, hand_written: bool = False) -> dict:
    """Batch-1 latency and batch-N throughput of the spec model and its reference."""
    ours, ref, origin, difference = pair(path, settings.device, hand_written)
    row = {"spec": spec_name(path), "reference": origin, "difference": difference}
    if not difference <= AGREEMENT:
        return {**row, "error": f"outputs differ by {difference:.1e} (relative); not timed"}
    models = {"spec": ours, "reference": ref, "copy": copy.deepcopy(ref), "traced": _traced(ref)}
    sync = torch.cuda.synchronize if settings.device.startswith("cuda") else None
    for label, batch, rounds, calls in (("latency", 1, settings.latency_rounds, settings.latency_calls),
                                        ("throughput", settings.batch, settings.throughput_rounds,
                                         settings.throughput_calls)):
        row[label] = _timed(models, batch, rounds, calls, settings, sync)
    return row


def _traced(model):
    try:
        return torch.fx.symbolic_trace(copy.deepcopy(model))
    except Exception:  # torchvision / timm models need not be traceable
        return None


def _timed(models: dict, batch: int, rounds: int, calls: int, settings: EagerSettings, sync) -> dict:
    x = torch.randn(batch, 3, settings.image, settings.image, device=settings.device)

    def runner(model):
        def run():
            for _ in range(calls):
                model(x)
        return run

    runs = {name: runner(model) for name, model in models.items() if model is not None}
    with torch.inference_mode():
        for _ in range(2):  # warm up: allocator, kernels, caches
            for run in runs.values():
                run()
        times = interleave(runs, rounds, sync)
    low, mid, high = quartiles(ratios(times["reference"], times["spec"]))
    spec_s, ref_s = median(times["spec"]) / calls, median(times["reference"]) / calls
    row = {"batch": batch, "spec_ms": 1e3 * spec_s, "reference_ms": 1e3 * ref_s,
           "spec_img_s": batch / spec_s, "reference_img_s": batch / ref_s,
           "ratio": mid, "ratio_quartiles": [low, high], "rounds": rounds}
    for control in ("copy", "traced"):
        if control in times:
            low, mid, high = quartiles(ratios(times["reference"], times[control]))
            row[control], row[f"{control}_quartiles"] = mid, [low, high]
    return row
