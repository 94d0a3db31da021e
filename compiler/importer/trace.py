"""Tracing a module with torch.fx: which modules stay whole (leaves), the shapes of every value,
and the refusals for what fx cannot trace."""

from __future__ import annotations

import torch
import torch.fx as fx
from torch.fx.passes.shape_prop import ShapeProp

from archdsl.backends.importer.layers import is_mapped_module
from archdsl.backends.importer.refusal import exception_line, refuse


class Tracer(fx.Tracer):
    """fx's tracer, keeping every module the importer maps whole as a leaf (torchvision's
    StochasticDepth, Permute and LayerNorm2d among them) and remembering where it was when
    tracing fails."""

    def __init__(self):
        super().__init__()
        self.record_stack_traces = True
        self.entered: list[str] = []

    def is_leaf_module(self, module, qualified_name: str) -> bool:
        return is_mapped_module(module) or super().is_leaf_module(module, qualified_name)

    def call_module(self, module, forward, args, kwargs):
        path = self.path_of_module(module)
        self.entered.append(path)
        result = super().call_module(module, forward, args, kwargs)
        self.entered.pop()
        return result


def trace(module: torch.nn.Module) -> tuple[fx.Graph, Tracer]:
    """The fx graph of `module`'s forward (in eval mode), or a refusal (E0803) naming the module
    path where tracing stopped and the user's line."""
    tracer = Tracer()
    try:
        graph = tracer.trace(module)
    except Exception as exc:  # fx raises TraceError, TypeError, RuntimeError... from the user's forward
        where = tracer.entered[-1] if tracer.entered else ""
        place = f"`{where}` ({type(module.get_submodule(where)).__name__})" if where else \
            f"the network ({type(module).__name__})"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        refuse("E0803", f"torch.fx cannot trace {place}: {reason}", where=exception_line(exc),
               label="tracing stopped here",
               help="the forward must run the same ops for every input: control flow on a tensor's values "
                    "(`if x.sum() > 0`), loops over a tensor or calls fx cannot follow have no spec; "
                    "rewrite that part without them")
    return graph, tracer


def propagate_shapes(graph: fx.Graph, module: torch.nn.Module, example: torch.Tensor) -> None:
    """Run the traced graph once on `example`, recording each value's shape in node.meta."""
    gm = fx.GraphModule(module, graph)
    with torch.no_grad():
        ShapeProp(gm).propagate(example)


def shape(node) -> tuple[int, ...] | None:
    """The shape of a tensor value, None for anything else."""
    meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None
