"""Per-node costs computed from the IR's inferred types alone."""

from __future__ import annotations

from archdsl.ir.graph import Graph
from archdsl.ir.memory import BYTES_PER_FP32
from archdsl.ir.nodes import NodeBase


def node_macs(node: NodeBase, graph: Graph) -> int:
    """Multiply-accumulates of a conv- or linear-like node (the convention torchvision publishes); 0 otherwise.

    Each op counts its own (`macs` on its class in archdsl.ir.ops)."""
    return node.macs([graph[i].type for i in node.inputs])


def total_macs(graph: Graph) -> int:
    return sum(node_macs(n, graph) for n in graph.nodes())


def node_other_flops(node: NodeBase, graph: Graph) -> int:
    """Floating-point operations other than conv/linear MACs: norms, activations, adds, pools, biases.

    A stated convention, one image, inference, each op counting its own (`other_flops`): bn 2 per
    element (scale and shift), layernorm and groupnorm 5, an activation its table's figure (relu,
    sigmoid 1, softmax 3; archdsl.ir.ops.act), mul and layer_scale 1, add one per extra operand, a
    pool one per window element read (an adaptive or global pool one per input element), bilinear
    upsampling 7 per output, a conv or linear bias 1 per output. Data movement (concat, pad, views,
    shuffles, nearest upsampling) and what is the identity at inference (dropout, stochastic depth)
    is free.
    """
    if node.type is None:
        return 0
    return node.other_flops([graph[i].type for i in node.inputs])


def peak_activation_bytes(graph: Graph) -> int:
    """fp32 bytes live at once in an inference pass over one image, each tensor freed after its last use.

    The input image counts; a view keeps the tensor it looks at alive.
    """
    owner: dict[int, int] = {}
    last_use: dict[int, int] = {}
    order = list(graph.nodes())
    for position, node in enumerate(order):
        owner[node.id] = owner[node.inputs[0]] if node.VIEW and node.inputs else node.id
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
