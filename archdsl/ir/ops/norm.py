"""Normalisations and learned per-channel scales."""


from functools import lru_cache
from typing import ClassVar, Literal

from pydantic import Field

from archdsl.ir.ops.base import (Entry, NodeBase, NoMacs, Problem, Result, TensorType, declared, groups_problem,
                                 need_spatial)


def _eps_problem(node) -> list[Problem]:
    """E0311 for an eps that is not positive: BatchNorm's torch refuses in training, and for any
    norm it leaves a constant input (a channel or position with no variance) dividing by zero."""
    if node.eps > 0:
        return []
    why = ("torch's batch_norm refuses eps=0 in training" if node.op == "bn"
           else "with eps=0 a constant input divides by zero")
    return [Problem("E0311", f"{node.op} eps must be positive, got {node.eps}", f"eps={node.eps}",
                    f"{why}; the usual value is 1e-5 (TensorFlow's models use 1e-3)")]


class _Norm(NoMacs, NodeBase):
    has_state: bool = Field(default=True, exclude=True)
    FAMILY = "norm"
    #: flops per element at inference
    FLOPS: ClassVar[int] = 2

    def other_flops(self, inputs) -> int:
        return self.FLOPS * self.type.numel


class BatchNorm(_Norm):
    op: Literal["bn"] = "bn"
    eps: float = 1e-5
    momentum: float = 0.1
    channels: int | None = None

    def infer(self, inputs) -> Result:
        (t,) = inputs
        problems = need_spatial(self, t) + declared(self, "channels", self.channels, t.channels)
        return t, problems + _eps_problem(self)

    def state(self, in_type) -> list[Entry]:
        return list(_batch_norm_state(in_type.channels))


@lru_cache(maxsize=256)
def _batch_norm_state(channels: int) -> tuple[Entry, ...]:
    """A batch norm's entries over `channels` (made once per width: the budget and the verdict
    both ask for every norm's)."""
    c = (channels,)
    return (Entry("weight", c), Entry("bias", c), Entry("running_mean", c, False), Entry("running_var", c, False),
            Entry("num_batches_tracked", (), False))


class FrozenBatchNorm(_Norm):
    """Batch norm with fixed statistics and affine values (torchvision's FrozenBatchNorm2d, as detection
    backbones use): all four entries are buffers, there is no `num_batches_tracked`, and training
    leaves it as it is. Its type rule is bn's."""

    op: Literal["frozen_bn"] = "frozen_bn"
    eps: float = 1e-5
    channels: int | None = None
    infer = BatchNorm.infer

    def state(self, in_type) -> list[Entry]:
        c = (in_type.channels,)
        return [Entry(name, c, False) for name in ("weight", "bias", "running_mean", "running_var")]


class LayerNorm(_Norm):
    """Layer norm over the channels at each position of an image (torchvision ConvNeXt's
    LayerNorm2d), or over the features (last axis) of anything else."""

    op: Literal["layernorm"] = "layernorm"
    eps: float = 1e-5
    #: mean, variance (square and sum), normalise, scale and shift
    FLOPS: ClassVar[int] = 5

    def infer(self, inputs) -> Result:
        return inputs[0], _eps_problem(self)

    def state(self, in_type) -> list[Entry]:
        c = (in_type.channels,)
        return [Entry("weight", c), Entry("bias", c)]


class GroupNorm(_Norm):
    """Group norm (torch's GroupNorm): the channels in `groups` groups, each normalised over itself."""

    op: Literal["groupnorm"] = "groupnorm"
    groups: int
    eps: float = 1e-5
    FLOPS: ClassVar[int] = 5

    def infer(self, inputs) -> Result:
        (t,) = inputs
        if not (t.is_image or t.is_flat):
            return None, [Problem("E0305", f"groupnorm needs an image (CxHxW) or a vector, but its input is {t}",
                                  f"input is {t}", "on a token sequence, use `layernorm`")]
        problems = _eps_problem(self)
        if self.groups < 1 or t.channels % self.groups:
            problems.append(groups_problem(self, self.groups, t.channels))
        return t, problems

    def state(self, in_type) -> list[Entry]:
        c = (in_type.channels,)
        return [Entry("weight", c), Entry("bias", c)]


class LayerScale(NoMacs, NodeBase):
    """A learned per-channel scale (torchvision ConvNeXt's `layer_scale`): one parameter of shape
    (C, 1, 1) whose state_dict key is the node's path itself."""

    op: Literal["layer_scale"] = "layer_scale"
    has_state: bool = Field(default=True, exclude=True)
    init: float = 1e-6

    FAMILY = "norm"

    def infer(self, inputs) -> Result:
        (t,) = inputs
        problems = need_spatial(self, t)
        return (None if problems else t), problems

    def state(self, in_type) -> list[Entry]:
        return [Entry("", (in_type.channels, 1, 1))]

    def other_flops(self, inputs) -> int:
        return self.type.numel


__all__ = ["BatchNorm", "FrozenBatchNorm", "LayerNorm", "GroupNorm", "LayerScale", "TensorType"]
