"""Per-node costs computed from the IR's inferred types alone."""

from __future__ import annotations

from archdsl.ir.graph import Graph
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
