"""The fast path as options of a lowered module: a dtype, the channels-last layout, a
device and torch.compile. A dtype or layout is applied to the parameters and, as the
forward's first lines, to the input (to the parameters' dtype at the time of the call), so
callers keep passing ordinary fp32 NCHW images.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import torch
from torch import fx, nn

from archdsl.options import COMPILE_MODES, DTYPE_NAMES

DTYPES = {**dict(zip(DTYPE_NAMES, (torch.float32, torch.bfloat16, torch.float16))),
          "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "half": torch.float16}


def as_dtype(dtype) -> torch.dtype | None:
    """A floating torch.dtype from a dtype or one of the names in DTYPES; None stays None."""
    if dtype is None or (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        return dtype
    if isinstance(dtype, str) and dtype.lower() in DTYPES:
        return DTYPES[dtype.lower()]
    raise ValueError(f"dtype must be a floating torch.dtype or one of {', '.join(DTYPES)}; got {dtype!r}")


def as_device(device) -> torch.device | None:
    """`device` as a torch.device this torch can use; ValueError naming the problem otherwise."""
    if device is None:
        return None
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be a torch.device or a name like 'cpu' or 'cuda:0'; got {device!r}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} asks for CUDA, which this torch ({torch.__version__}) cannot use: "
                         "no CUDA build or no GPU; build on 'cpu', or install a CUDA build of torch")
    return device


def compile_mode(compile) -> str | None:
    """The torch.compile mode `compile` asks for: True means "default", False or None no compile."""
    if compile is None or compile is False:
        return None
    if compile is True:
        return "default"
    if compile in COMPILE_MODES:
        return compile
    raise ValueError(f"compile must be True, False or one of {', '.join(COMPILE_MODES)}; got {compile!r}")


def prepare(module: fx.GraphModule, *, dtype=None, channels_last: bool = False, device=None,
            compile=False) -> nn.Module:
    """`module` cast to `dtype`, laid out channels-last, moved to `device` and wrapped in
    torch.compile, as asked; the input is converted to the same dtype and layout."""
    dtype, mode = as_dtype(dtype), compile_mode(compile)
    device = as_device(device)
    layout = torch.channels_last if channels_last else None
    if dtype is not None or layout is not None:
        _convert_input(module, dtype, layout)
    conversion = {k: v for k, v in (("device", device), ("dtype", dtype), ("memory_format", layout)) if v is not None}
    if conversion:
        module = module.to(**conversion)
    if mode is not None:
        module = torch.compile(module, mode=mode)
    return module


def _convert_input(module: fx.GraphModule, dtype, layout) -> None:
    """Insert `x = x.to(dtype=..., memory_format=...)` after the input placeholder. The dtype is
    read from the first parameter on every call, so the module still takes its input after a
    later `.float()` or `.to(torch.float16)`."""
    graph = module.graph
    x = next(node for node in graph.nodes if node.op == "placeholder")
    first = next((name for name, _ in module.named_parameters()), None)
    kwargs, last = {}, x
    if dtype is not None and first is not None:
        with graph.inserting_after(last):
            last = graph.get_attr(first)
        with graph.inserting_after(last):
            last = kwargs["dtype"] = graph.create_node("call_function", getattr, (last, "dtype"), name="dtype")
    elif dtype is not None:
        kwargs["dtype"] = dtype
    if layout is not None:
        kwargs["memory_format"] = layout
    with graph.inserting_after(last):
        converted = graph.call_method("to", (x,), kwargs)
    x.replace_all_uses_with(converted, delete_user_cb=lambda user: user is not converted)
    module.recompile()


@dataclass(frozen=True)
class CompileReport:
    """What compiling a module and running it once showed."""

    mode: str
    device: str
    seconds: float  # torch.compile's first call: tracing, code generation and the run
    graphs: int
    graph_breaks: int
    error: float  # max |compiled - eager| over max |eager|
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.graph_breaks == 0 and self.error <= self.tolerance

    def __str__(self) -> str:
        return (f"torch.compile (mode {self.mode}, {self.device}): {self.graphs} graph(s), {self.graph_breaks} graph "
                f"break(s), first call {self.seconds:.1f}s, max |compiled - eager| = {self.error:.1e} of the "
                f"largest output (tolerance {self.tolerance:.0e})")


@torch.no_grad()
def try_compile(module: nn.Module, input_shape: tuple[int, ...], mode: str = "default") -> CompileReport:
    """Compile `module` (eval mode), run it once on a random batch of one, and compare with eager."""
    from torch._dynamo.utils import counters

    held = next(itertools.chain(module.parameters(), module.buffers()), None)  # none in a network of pools
    device, dtype = (held.device, held.dtype) if held is not None else (torch.device("cpu"), torch.float32)
    x = torch.randn(1, *input_shape, generator=torch.Generator().manual_seed(0)).to(device)
    module.eval()
    eager = module(x).float()
    torch._dynamo.reset()
    counters.clear()
    started = time.perf_counter()
    compiled = torch.compile(module, mode=mode)(x).float()
    seconds = time.perf_counter() - started
    error = float((compiled - eager).abs().max() / eager.abs().max().clamp_min(1e-12))
    # TF32 convolutions on GPUs and half-precision rounding differ from eager by more than fp32 does
    tolerance = 1e-2 if dtype == torch.float32 else 5e-2
    return CompileReport(mode, str(device), seconds, counters["stats"]["unique_graphs"],
                         sum(counters["graph_break"].values()), error, tolerance)
