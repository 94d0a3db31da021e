"""Type inference: the output tensor type of each op, and the problems that prevent one.

Each op's rule is its node class's `infer` (archdsl.ir.ops). A rule sees the node and
the types of its inputs and returns the output type plus problems; problems carry no
span, the caller attaches the node's. The window arithmetic and help lines are shared here.
"""

from __future__ import annotations

from archdsl.ir import nodes as N
from archdsl.ir.nodes import TensorType
from archdsl.ir.ops.base import Problem, Result, nearest_divisors, nearest_multiples, not_divisible_help
from archdsl.ir.ops.conv import conv_out, sides

__all__ = ["Problem", "Result", "infer", "conv_out", "sides", "nearest_multiples", "not_divisible_help",
           "nearest_divisors"]


def infer(node: N.NodeBase, inputs: list[TensorType | None]) -> Result:
    """The output type of `node` given its inputs' types (None where an earlier error left one unknown)."""
    if any(t is None for t in inputs):
        return None, []
    return node.infer(inputs)
