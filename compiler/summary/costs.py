"""Per-node costs computed from the IR's inferred types alone."""

from __future__ import annotations

from archdsl.ir.graph import Graph
from archdsl.ir.memory import BYTES_PER_FP32, VIEW_OPS
from archdsl.ir.nodes import NodeBase


def node_macs(node: NodeBase, graph: Graph) -> int:
    """Multiply-accumulates of a conv or linear node (the convention torchvision publishes); 0 otherwise."""
    if node.op == "conv":
        in_channels = graph[node.inputs[0]].type.channels
        kh, kw = node.kernel
        return node.type.numel * (in_channels // node.groups) * kh * kw
    if node.op == "linear":
        return graph[node.inputs[0]].type.channels * node.out_features
    return 0


def total_macs(graph: Graph) -> int:
    return sum(node_macs(n, graph) for n in graph.nodes())


def node_other_flops(node: NodeBase, graph: Graph) -> int:
    """Floating-point operations other than conv/linear MACs: norms, activations, adds, pools, biases.

    A stated convention, one image, inference: bn 2 per element (scale and shift), relu, sigmoid
    and mul 1, softmax 3 (exp, sum, divide), add one per extra operand, a pool one per window
    element read, a conv or linear bias 1 per output. Data movement (concat, pad, views) is free.
    """
    if node.type is None:
        return 0
    out = node.type.numel
    per_element = {"bn": 2, "relu": 1, "sigmoid": 1, "mul": 1, "softmax": 3}
    if node.op in per_element:
        return per_element[node.op] * out
    if node.op == "add":
        return (len(node.inputs) - 1) * out
    if node.op in ("maxpool", "avgpool"):
        kh, kw = node.kernel
        return out * kh * kw
    if node.op == "global_avgpool":
        return graph[node.inputs[0]].type.numel
    if node.op in ("conv", "linear") and node.bias:
        return out
    return 0


def peak_activation_bytes(graph: Graph) -> int:
    """fp32 bytes live at once in an inference pass over one image, each tensor freed after its last use.

    The input image counts; a view keeps the tensor it looks at alive.
    """
    owner: dict[int, int] = {}
    last_use: dict[int, int] = {}
    order = list(graph.nodes())
    for position, node in enumerate(order):
        owner[node.id] = owner[node.inputs[0]] if node.op in VIEW_OPS and node.inputs else node.id
        last_use[owner[node.id]] = position
        for i in node.inputs:
            last_use[owner[i]] = position
    live = peak = 0
    for position, node in enumerate(order):
        if owner[node.id] == node.id and node.type is not None:
            live += node.type.numel
            peak = max(peak, live)
        for freed in {owner[i] for i in node.inputs} | {owner[node.id]}:
            if last_use[freed] == position and graph[freed].type is not None:
                live -= graph[freed].type.numel
    return BYTES_PER_FP32 * peak
