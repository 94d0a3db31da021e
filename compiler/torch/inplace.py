"""In-place ReLUs and adds where no one else can see the overwritten tensor.

A hand-written ResNet writes `nn.ReLU(inplace=True)` and `out += identity`; doing
the same in the generated code saves an allocation and a pass over memory per op
and gives bit-identical results. A tensor may be overwritten only when the op is
its one user and its producer made it fresh (not a view, not the input) and does
not keep it for backward: convs, norms, linears, adds, concats and products.
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
        if _overwritable(root, first) and all(other is not first for other in rest):
            node.target = IN_PLACE[node.target]


def _overwritable(root: nn.Module, value) -> bool:
    if not isinstance(value, fx.Node) or len(value.users) != 1:
        return False
    if value.op == "call_module":
        return isinstance(root.get_submodule(value.target), FRESH_MODULES)
    return value.op == "call_function" and value.target in FRESH_FUNCTIONS
