"""Activation memory from the IR's inferred types: what one image needs in fp32.

The summary reports these figures and the checker's budget (`archdsl.limits`)
bounds them, so both count the same way. Whether an op's output is a view is the
op's own `VIEW` (archdsl.ir.ops).
"""

from __future__ import annotations

from archdsl.ir.graph import Graph
from archdsl.ir.nodes import NODE_TYPES, NodeBase

#: ops whose output shares its input's memory (a view), or is no tensor of its own
VIEW_OPS = tuple(op for op, cls in NODE_TYPES.items() if cls.VIEW)
BYTES_PER_FP32 = 4


def is_view(node: NodeBase) -> bool:
    """Whether `node`'s output shares its input's memory (or is no tensor of its own)."""
    return node.VIEW


def output_bytes(node: NodeBase) -> int:
    """fp32 bytes of the tensor a node produces for one image (0 for views and untyped nodes)."""
    out_type = node.type
    if out_type is None or node.VIEW:
        return 0
    return BYTES_PER_FP32 * out_type.numel


def activation_bytes(graph: Graph) -> int:
    """fp32 bytes of every op's own output for one image: what a training forward pass keeps."""
    return sum(output_bytes(n) for n in graph.nodes())
