"""The closed set of IR operations, as pydantic node types.

Every node carries its inputs (ids of earlier nodes), its module path (the
state_dict prefix for ops that own parameters), the source span it came from,
and its inferred tensor type. Each op is defined once, as a class in
`archdsl.ir.ops` that registers itself; this module gathers them.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from archdsl.ir.ops import REGISTRY
from archdsl.ir.ops.act import ACTIVATION_NODES, ACTIVATIONS, Activation, ActivationNode, Dropout, StochasticDepth
from archdsl.ir.ops.base import Entry, MissingRule, NodeBase, Pair, Problem, Sides, TensorType
from archdsl.ir.ops.conv import Conv, Deconv, ZeroPad
from archdsl.ir.ops.linear import Linear, PositionLinear
from archdsl.ir.ops.merge import Add, Concat, Mul
from archdsl.ir.ops.norm import BatchNorm, FrozenBatchNorm, GroupNorm, LayerNorm, LayerScale
from archdsl.ir.ops.pool import AdaptiveAvgPool, AdaptiveMaxPool, AvgPool, GlobalAvgPool, MaxPool, Upsample
from archdsl.ir.ops.reshape import ChannelSlice, Flatten, Identity, Input, Output, Shuffle
from archdsl.ir.ops.tensor import (INITS, Attention, Clamp, CoordsTable, Div, Sub, coords_table, Crop, LearnedTensor, MatMul, Pad, PositionBias,
                                   Rearrange, Reduce, Roll, Scalar, Select, ShiftMask, Softmax,
                                   relative_position_index, shift_mask)

Relu = ACTIVATION_NODES["relu"]
Sigmoid = ACTIVATION_NODES["sigmoid"]

#: op name -> node class
NODE_TYPES: dict[str, type[NodeBase]] = dict(REGISTRY)

Node = Annotated[Union[tuple(NODE_TYPES.values())], Field(discriminator="op")]

#: how many inputs each op takes: (at least, at most)
ARITY: dict[str, tuple[int, int]] = {op: cls.ARITY for op, cls in NODE_TYPES.items()}

__all__ = [
    "ACTIVATIONS", "ACTIVATION_NODES", "ARITY", "Activation", "ActivationNode", "Add", "AdaptiveAvgPool",
    "AdaptiveMaxPool", "AvgPool", "BatchNorm", "ChannelSlice", "Concat", "Conv", "Deconv", "Dropout", "Entry",
    "Flatten", "FrozenBatchNorm", "GlobalAvgPool", "GroupNorm", "Identity", "Input", "LayerNorm", "LayerScale", "Linear", "MaxPool",
    "MissingRule", "Mul", "NODE_TYPES", "Node", "NodeBase", "Output", "Pair", "PositionLinear", "Problem", "Relu",
    "Shuffle", "Sides", "Sigmoid", "Softmax", "StochasticDepth", "TensorType", "Upsample", "ZeroPad",
    "INITS", "Div", "Sub", "Attention", "Clamp", "CoordsTable", "coords_table", "Crop", "LearnedTensor", "MatMul", "Pad", "PositionBias", "Rearrange",
    "Reduce", "Roll", "Scalar", "Select", "ShiftMask", "relative_position_index", "shift_mask",
]
