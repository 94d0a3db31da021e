"""The closed set of IR operations, as pydantic node types.

Every node carries its inputs (ids of earlier nodes), its module path (the
state_dict prefix for ops that own parameters), the source span it came from,
and its inferred tensor type.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from archdsl.diagnostics import Span

Pair = tuple[int, int]
#: padding per side where it differs: (top, bottom, left, right)
Sides = tuple[int, int, int, int]


class TensorType(BaseModel):
    """The type of one image's activation: channels x height x width, or a flat vector."""

    model_config = ConfigDict(frozen=True)
    channels: int
    height: int | None = None
    width: int | None = None

    @property
    def is_flat(self) -> bool:
        return self.height is None

    @property
    def numel(self) -> int:
        return self.channels * (self.height or 1) * (self.width or 1)

    def __str__(self) -> str:
        if self.is_flat:
            return str(self.channels)
        return f"{self.channels}x{self.height}x{self.width}"


class NodeBase(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, extra="forbid")
    id: int
    inputs: tuple[int, ...] = ()
    path: str
    span: Span | None = None
    type: TensorType | None = None

    #: ops that own a torch module with parameters or buffers at `path`
    has_state: bool = Field(default=False, exclude=True)

    def attrs(self) -> dict:
        """The op's own attributes (everything but the common node fields)."""
        return self.model_dump(exclude={"id", "inputs", "path", "span", "type", "op", "has_state"})


class Input(NodeBase):
    op: Literal["input"] = "input"


class Output(NodeBase):
    op: Literal["output"] = "output"


class Conv(NodeBase):
    op: Literal["conv"] = "conv"
    has_state: bool = Field(default=True, exclude=True)
    out_channels: int
    kernel: Pair
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    groups: int = 1
    bias: bool = False
    in_channels: int | None = None  # as declared in the spec, checked against the input


class BatchNorm(NodeBase):
    op: Literal["bn"] = "bn"
    has_state: bool = Field(default=True, exclude=True)
    eps: float = 1e-5
    momentum: float = 0.1
    channels: int | None = None


class Linear(NodeBase):
    op: Literal["linear"] = "linear"
    has_state: bool = Field(default=True, exclude=True)
    out_features: int
    bias: bool = True
    in_features: int | None = None


class Relu(NodeBase):
    op: Literal["relu"] = "relu"


class Sigmoid(NodeBase):
    op: Literal["sigmoid"] = "sigmoid"


class Softmax(NodeBase):
    op: Literal["softmax"] = "softmax"


class Identity(NodeBase):
    op: Literal["identity"] = "identity"


class Dropout(NodeBase):
    op: Literal["dropout"] = "dropout"
    p: float = 0.5


class MaxPool(NodeBase):
    """Max pooling; padding is (height, width) on both sides, or (top, bottom, left, right)
    where TensorFlow's `same` splits it unevenly; padded cells never win."""

    op: Literal["maxpool"] = "maxpool"
    kernel: Pair
    stride: Pair
    padding: Pair | Sides = (0, 0)
    ceil_mode: bool = False


class AvgPool(NodeBase):
    """Average pooling; padding as MaxPool's. Padded cells count towards the average only
    with count_include_pad."""

    op: Literal["avgpool"] = "avgpool"
    kernel: Pair
    stride: Pair
    padding: Pair | Sides = (0, 0)
    ceil_mode: bool = False
    count_include_pad: bool = True


class GlobalAvgPool(NodeBase):
    op: Literal["global_avgpool"] = "global_avgpool"


class Flatten(NodeBase):
    op: Literal["flatten"] = "flatten"


class ZeroPad(NodeBase):
    op: Literal["zeropad"] = "zeropad"
    padding: tuple[int, int, int, int]  # top, bottom, left, right


class Add(NodeBase):
    op: Literal["add"] = "add"


class Mul(NodeBase):
    """Elementwise product; the second input may be a per-channel (Cx1x1) gate."""

    op: Literal["mul"] = "mul"


class Concat(NodeBase):
    op: Literal["concat"] = "concat"


class ChannelSlice(NodeBase):
    op: Literal["slice"] = "slice"
    start: int
    size: int


Node = Annotated[
    Union[Input, Output, Conv, BatchNorm, Linear, Relu, Sigmoid, Softmax, Identity, Dropout,
          MaxPool, AvgPool, GlobalAvgPool, Flatten, ZeroPad, Add, Mul, Concat, ChannelSlice],
    Field(discriminator="op"),
]

NODE_TYPES: dict[str, type[NodeBase]] = {
    cls.model_fields["op"].default: cls
    for cls in (Input, Output, Conv, BatchNorm, Linear, Relu, Sigmoid, Softmax, Identity, Dropout,
                MaxPool, AvgPool, GlobalAvgPool, Flatten, ZeroPad, Add, Mul, Concat, ChannelSlice)
}

#: how many inputs each op takes: (at least, at most)
ARITY: dict[str, tuple[int, int]] = {op: (1, 1) for op in NODE_TYPES}
ARITY.update({"input": (0, 0), "add": (2, 1 << 16), "concat": (1, 1 << 16), "mul": (2, 2)})
