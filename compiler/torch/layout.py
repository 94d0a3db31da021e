"""Per-position layers (ConvNeXt's norms and linears) run on the channels-last tensor, and their
lowering views the result back as channels-first for whatever comes next. Where what comes next
is another per-position layer, or an elementwise activation on the way to one, those views are
dropped, so the forward runs as torchvision's ConvNeXt block does: norm, linear, GELU, linear, all
on one channels-last tensor. That is faster and gives torchvision's bits: on a CPU, GELU on the
channels-first view of a channels-last tensor takes another kernel path, about 15% slower, whose
results differ in the last bit.
"""

from __future__ import annotations

from torch import fx

from archdsl.backends.torch.ops import torch_function
from archdsl.ir.nodes import ACTIVATIONS

TO_CHANNELS_FIRST = (0, 3, 1, 2)
TO_CHANNELS_LAST = (0, 2, 3, 1)
#: activations of one element at a time (softmax's fixed dim=1 reads across the channels)
ELEMENTWISE = {torch_function(a.torch) for a in ACTIVATIONS.values() if not a.fixed}


def keep_channels_last(graph: fx.Graph) -> None:
    """Drop the channels-first views between per-position layers and the activations between them."""
    for node in list(graph.nodes):
        if _is_view(node, TO_CHANNELS_LAST) and _is_view(node.args[0], TO_CHANNELS_FIRST):
            view = node.args[0]
            node.replace_all_uses_with(view.args[0])
            graph.erase_node(node)
            _erase_if_unused(graph, view)
        elif node.op == "call_function" and node.target in ELEMENTWISE and _is_view(node.args[0], TO_CHANNELS_FIRST):
            _run_on_channels_last(graph, node)


def _run_on_channels_last(graph: fx.Graph, node: fx.Node) -> None:
    """`act(x.permute(0, 3, 1, 2))` as `act(x).permute(0, 3, 1, 2)`: the same values, elementwise."""
    view = node.args[0]
    node.args = (view.args[0], *node.args[1:])
    with graph.inserting_after(node):
        viewed = graph.call_method("permute", (node, *TO_CHANNELS_FIRST))
    node.replace_all_uses_with(viewed, delete_user_cb=lambda user: user is not viewed)
    _erase_if_unused(graph, view)


def _is_view(node, order: tuple[int, ...]) -> bool:
    return isinstance(node, fx.Node) and node.op == "call_method" and node.target == "permute" \
        and tuple(node.args[1:]) == order


def _erase_if_unused(graph: fx.Graph, node: fx.Node) -> None:
    if not node.users:
        graph.erase_node(node)
