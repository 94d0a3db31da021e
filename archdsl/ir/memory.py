"""Activation memory from the IR's inferred types: what one image needs in fp32.

The summary reports these figures and the checker's budget (`archdsl.limits`)
bounds them, so both count the same way.
"""

from __future__ import annotations

from archdsl.ir.graph import Graph
from archdsl.ir.nodes import NodeBase

#: ops whose output shares its input's memory (a view), or is no tensor of its own
VIEW_OPS = ("input", "output", "identity", "flatten", "slice")
BYTES_PER_FP32 = 4


def output_bytes(node: NodeBase) -> int:
    """fp32 bytes of the tensor a node produces for one image (0 for views and untyped nodes)."""
    if node.op in VIEW_OPS or node.type is None:
        return 0
    return BYTES_PER_FP32 * node.type.numel


def activation_bytes(graph: Graph) -> int:
    """fp32 bytes of every op's own output for one image: what a training forward pass keeps."""
    return sum(output_bytes(n) for n in graph.nodes())
