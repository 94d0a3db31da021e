"""In-place activations and adds where no one else can see the overwritten tensor.

A hand-written network writes `nn.ReLU(inplace=True)`, `nn.SiLU(inplace=True)` and
`out += identity`; doing the same in the generated code saves an allocation and a pass over
memory per op and gives bit-identical results. At batch 8 on a CPU the allocation is what
costs: an activation of tens of megabytes that glibc malloc serves by mmap is paged in afresh
on every forward. A tensor may be overwritten only when the op is its one user and its producer
made it fresh (not a view, not the input) and does not keep it for backward: convs, norms,
linears, adds, concatenations and products, and a unit (a stage, block or scope with a forward
of its own) whose forward returns such a tensor. Dropout and stochastic depth return their input at
inference, so their output counts as fresh where their input does. Where the producer is a
layer whose own input is read elsewhere too (DenseNet's running concatenation feeds each unit's
first norm and the next concatenation), a ReLU or add checks at run time that the layer did not
hand on its input (`relu_unless_alias`), so replacing a layer by nn.Identity never lets an
in-place op overwrite a tensor that is still to be read; other activations stay out of place there.
"""

from __future__ import annotations

import operator

import torch
import torch.nn.functional as F
from torch import fx, nn

from archdsl.backends.torch.ops import FrozenBatchNorm2d, StochasticDepth

FRESH_MODULES = (nn.Conv2d, nn.BatchNorm2d, FrozenBatchNorm2d, nn.Linear)
#: layers that return their input unchanged at inference and a fresh tensor in training
PASS_THROUGH = (nn.Dropout, StochasticDepth)
#: ops with an in-place twin of their own
IN_PLACE = {torch.relu: torch.relu_, torch.sigmoid: torch.sigmoid_, torch.tanh: torch.tanh_,
            operator.add: operator.iadd}
#: activations that work in place when called with `inplace=True` (as nn.SiLU(inplace=True) calls
#: them). Not elu and leaky_relu: their in-place backward refuses a negative alpha or slope.
IN_PLACE_KEYWORD = (F.relu6, F.hardswish, F.hardsigmoid, F.silu, F.mish)


def make_in_place(graph: fx.Graph, root: nn.Module) -> None:
    """Rewrite `graph` (whose modules live under `root`) so that activations and adds overwrite a dead operand."""
    for node in graph.nodes:
        if node.op != "call_function" or not (node.target in IN_PLACE or node.target in IN_PLACE_KEYWORD):
            continue
        if node.target is operator.add and not _overwritable(root, node.args[0]) \
                and _overwritable(root, node.args[1]):
            node.args = (node.args[1], node.args[0])  # a + b == b + a exactly in IEEE arithmetic
        first, *rest = node.args
        if not _overwritable(root, first) or any(other is first for other in rest):
            continue
        exposed = _exposed_input(_maker(root, first))
        if exposed is None:
            _overwrite(node)
        elif node.target in GUARDED:
            node.target, node.args = GUARDED[node.target], (*node.args, exposed)


def _overwrite(node: fx.Node) -> None:
    if node.target in IN_PLACE_KEYWORD:
        node.kwargs = {**node.kwargs, "inplace": True}
    else:
        node.target = IN_PLACE[node.target]


def relu_unless_alias(x: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """relu, in place unless the layer that made `x` handed on its input `source` itself."""
    return torch.relu(x) if x is source else torch.relu_(x)


def add_unless_alias(x: torch.Tensor, y: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """x + y, into `x` unless the layer that made `x` handed on its input `source` itself."""
    return x + y if x is source else operator.iadd(x, y)


GUARDED = {torch.relu: relu_unless_alias, operator.add: add_unless_alias}
#: functions whose output is a new tensor they do not keep for backward (an add checked at run
#: time returns a new sum or its first operand, itself such a tensor)
FRESH_FUNCTIONS = (operator.add, operator.iadd, torch.cat, operator.mul, add_unless_alias)


def _overwritable(root: nn.Module, value) -> bool:
    maker = _maker(root, value)
    return maker is not None and _fresh(root, maker)


def _fresh(root: nn.Module, maker: fx.Node) -> bool:
    """Whether `maker` makes a new tensor that it does not keep for backward. A stage, block or
    scope with a forward of its own (a GraphModule, lowered before its parent) does where the
    value it returns is one its own forward could overwrite: torchvision's `result += input`
    after an EfficientNet block's projection norm."""
    if maker.op == "call_module":
        module = root.get_submodule(maker.target)
        if isinstance(module, fx.GraphModule):
            returned = module.graph.output_node().args[0]
            return _overwritable(module, returned)
        return isinstance(module, FRESH_MODULES)
    return maker.op == "call_function" and maker.target in FRESH_FUNCTIONS


def _maker(root: nn.Module, value) -> fx.Node | None:
    """The node whose output tensor `value` is at inference: `value`, or, through dropout and
    stochastic depth, the node that made their input; None where a tensor on the way is read twice."""
    while isinstance(value, fx.Node) and len(value.users) == 1:
        if value.op != "call_module" or not isinstance(root.get_submodule(value.target), PASS_THROUGH):
            return value
        value = value.args[0]
    return None


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
