"""In-place ReLUs and adds where no one else can see the overwritten tensor.

A hand-written ResNet writes `nn.ReLU(inplace=True)` and `out += identity`; doing
the same in the generated code saves an allocation and a pass over memory per op
and gives bit-identical results. A tensor may be overwritten only when the op is
its one user and its producer made it fresh (not a view, not the input) and does
not keep it for backward: convs, norms, linears, adds, concats and products. Where the
producer is a layer whose own input is read elsewhere too (DenseNet's running concatenation
feeds each unit's first norm and the next concatenation), the op checks at run time that the
layer did not hand on its input (`relu_unless_alias`), so replacing a layer by nn.Identity
never lets an in-place op overwrite a tensor that is still to be read.
"""

from __future__ import annotations

import operator

import torch
from torch import fx, nn

FRESH_MODULES = (nn.Conv2d, nn.BatchNorm2d, nn.Linear)
FRESH_FUNCTIONS = (operator.add, operator.iadd, torch.cat, operator.mul)
IN_PLACE = {torch.relu: torch.relu_, operator.add: operator.iadd}


def make_in_place(graph: fx.Graph, root: nn.Module) -> None:
    """Rewrite `graph` (whose modules live under `root`) so that ReLUs and adds overwrite a dead operand."""
    for node in graph.nodes:
        if node.op != "call_function" or node.target not in IN_PLACE:
            continue
        if node.target is operator.add and not _overwritable(root, node.args[0]) \
                and _overwritable(root, node.args[1]):
            node.args = (node.args[1], node.args[0])  # a + b == b + a exactly in IEEE arithmetic
        first, *rest = node.args
        if not _overwritable(root, first) or any(other is first for other in rest):
            continue
        exposed = _exposed_input(first)
        if exposed is None:
            node.target = IN_PLACE[node.target]
        else:
            node.target, node.args = GUARDED[node.target], (*node.args, exposed)


def relu_unless_alias(x: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """relu, in place unless the layer that made `x` handed on its input `source` itself."""
    return torch.relu(x) if x is source else torch.relu_(x)


def add_unless_alias(x: torch.Tensor, y: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """x + y, into `x` unless the layer that made `x` handed on its input `source` itself."""
    return x + y if x is source else operator.iadd(x, y)


GUARDED = {torch.relu: relu_unless_alias, operator.add: add_unless_alias}


def _overwritable(root: nn.Module, value) -> bool:
    if not isinstance(value, fx.Node) or len(value.users) != 1:
        return False
    if value.op == "call_module":
        return isinstance(root.get_submodule(value.target), FRESH_MODULES)
    return value.op == "call_function" and value.target in FRESH_FUNCTIONS


def _exposed_input(value: fx.Node) -> fx.Node | None:
    """For a layer's output: the layer's input, where that is read elsewhere too. The forward
    calls whatever module lives at the path when it runs, and one replaced by nn.Identity (a
    norm folded into its conv, a layer ablated) returns its input: overwriting the output would
    then overwrite a tensor that others still read."""
    if value.op != "call_module" or not value.args:
        return None
    source = value.args[0]
    private = isinstance(source, fx.Node) and len(source.users) == 1 and source.op != "placeholder"
    return None if private else source
