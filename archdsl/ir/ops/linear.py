"""Fully connected ops: on a flat vector, and at every position of an image."""


from typing import Literal

from pydantic import Field

from archdsl.ir.ops.base import Entry, NodeBase, Problem, Result, TensorType, declared, need_spatial


class _Linear(NodeBase):
    has_state: bool = Field(default=True, exclude=True)
    FAMILY = "linear"

    def state(self, in_type) -> list[Entry]:
        weight = Entry("weight", (self.out_features, in_type.channels))
        return [weight] + ([Entry("bias", (self.out_features,))] if self.bias else [])

    def macs(self, inputs) -> int:
        (t,) = inputs
        return t.numel * self.out_features

    def other_flops(self, inputs) -> int:
        return self.type.numel if self.bias else 0


class Linear(_Linear):
    """nn.Linear over the last axis. `bias_unused` (start, stop): those entries of the bias are
    kept in the state_dict but taken as 0 (Swin V2's key bias, which torchvision zeroes in its forward)."""

    op: Literal["linear"] = "linear"
    out_features: int
    bias: bool = True
    in_features: int | None = None
    bias_unused: tuple[int, int] | None = None

    def infer(self, inputs) -> Result:
        (t,) = inputs
        if t.is_image:
            return None, [Problem("E0305", f"linear needs a flat vector, but its input is an image {t}",
                                  f"input is {t}", "add `flatten` (after a global pool) before this layer")]
        return t.with_channels(self.out_features), declared(self, "features", self.in_features, t.channels)


class PositionLinear(_Linear):
    """A linear map of the channels at every position of an image (torchvision ConvNeXt's
    nn.Linear between two permutes): weights [out, in], output OUTxHxW."""

    op: Literal["position_linear"] = "position_linear"
    out_features: int
    bias: bool = True

    def infer(self, inputs) -> Result:
        (t,) = inputs
        problems = need_spatial(self, t)
        if problems:
            return None, [Problem("E0305", f"position_linear needs an image (CxHxW), but its input is a flat "
                                  f"vector of {t}", f"input is {t}", "on a flat vector, use `linear`")]
        return t.with_channels(self.out_features), []
