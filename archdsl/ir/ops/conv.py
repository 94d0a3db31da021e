"""Sliding-window ops with weights: conv and its transpose, and the size rule they share."""


import math
from typing import Literal

from pydantic import Field

from archdsl.ir.ops.base import (Entry, NodeBase, NoMacs, Pair, Problem, Result, SameType, Sides, Stateless,
                                 TensorType, declared, image_type, need_spatial, not_divisible_help)


def conv_out(size: int, kernel: int, stride: int, pad: int, dilation: int = 1, ceil: bool = False,
             pad_after: int | None = None) -> int:
    """Output size of a sliding window (torch's rule); `pad_after` where the far side's padding differs."""
    after = pad if pad_after is None else pad_after
    span = size + pad + after - dilation * (kernel - 1) - 1
    out = (math.ceil(span / stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def sides(padding) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from a (height, width) padding or from the four sides."""
    return padding if len(padding) == 4 else (padding[0], padding[0], padding[1], padding[1])


def too_small(node, t: TensorType, kernel, stride, padding, dilation=(1, 1)) -> Problem:
    """E0306: a window op whose input is too small to leave any output."""
    dilated = f", dilation {dilation[0]}" if tuple(dilation) != (1, 1) else ""
    window = f"a {kernel[0]}x{kernel[1]} window (stride {stride[0]}, padding {padding[0]}{dilated})"
    return Problem("E0306", f"{node.op} leaves no output: its {t.height}x{t.width} input is too small for {window}",
                   f"input is {t}", "use a larger input (--input), a smaller kernel or stride, or more padding")


def window(node, t: TensorType, kernel, stride, padding, dilation=(1, 1), ceil=False, channels=None) -> Result:
    """The output type of a window op: `channels` (default: the input's) at the window's size."""
    problems = need_spatial(node, t)
    if problems:
        return None, problems
    top, bottom, left, right = sides(padding)
    h = conv_out(t.height, kernel[0], stride[0], top, dilation[0], ceil, bottom)
    w = conv_out(t.width, kernel[1], stride[1], left, dilation[1], ceil, right)
    if h <= 0 or w <= 0:
        return None, [too_small(node, t, kernel, stride, padding, dilation)]
    return image_type(t.channels if channels is None else channels, h, w), []


def _groups_problem(node, in_channels: int) -> Problem:
    g = node.groups
    bad = in_channels if g < 1 or in_channels % g else node.out_channels
    side = "input" if bad == in_channels and (g < 1 or in_channels % g) else "output"
    return Problem("E0304", f"groups={g} does not divide the {side} channels ({bad})",
                   f"{bad} channels in {g} groups", not_divisible_help(bad, max(g, 1)))


def _groups(node, t: TensorType) -> list[Problem]:
    g = node.groups
    return [_groups_problem(node, t.channels)] if g < 1 or t.channels % g or node.out_channels % g else []


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

    FAMILY = "conv"

    def infer(self, inputs) -> Result:
        (t,) = inputs
        problems = declared(self, "channels", self.in_channels, t.channels) + _groups(self, t)
        out, more = window(self, t, self.kernel, self.stride, self.padding, self.dilation, channels=self.out_channels)
        return out, problems + more

    def state(self, in_type) -> list[Entry]:
        kh, kw = self.kernel
        weight = Entry("weight", (self.out_channels, in_type.channels // self.groups, kh, kw))
        return [weight] + ([Entry("bias", (self.out_channels,))] if self.bias else [])

    def macs(self, inputs) -> int:
        kh, kw = self.kernel
        return self.type.numel * (inputs[0].channels // self.groups) * kh * kw

    def other_flops(self, inputs) -> int:
        return self.type.numel if self.bias else 0


class Deconv(NodeBase):
    """A transposed convolution (torch's ConvTranspose2d): the gradient of a conv, which grows the size."""

    op: Literal["deconv"] = "deconv"
    has_state: bool = Field(default=True, exclude=True)
    out_channels: int
    kernel: Pair
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    output_padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    groups: int = 1
    bias: bool = False

    FAMILY = "conv"

    def infer(self, inputs) -> Result:
        (t,) = inputs
        problems = need_spatial(self, t)
        if problems:
            return None, problems
        problems = _groups(self, t)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= s and op >= d:
                problems.append(Problem(
                    "E0312", f"output_pad={op} must be smaller than the stride ({s}) or the dilation ({d})",
                    "output padding too large", "output_pad picks one of the `stride` sizes a strided conv maps "
                    "to the same output; it is 0 .. stride-1"))
                return None, problems
        h, w = (
            (size - 1) * s - 2 * p + d * (k - 1) + op + 1
            for size, s, p, d, k, op in zip((t.height, t.width), self.stride, self.padding, self.dilation,
                                            self.kernel, self.output_padding))
        if h <= 0 or w <= 0:
            return None, problems + [too_small(self, t, self.kernel, self.stride, self.padding, self.dilation)]
        return image_type(self.out_channels, h, w), problems

    def state(self, in_type) -> list[Entry]:
        kh, kw = self.kernel
        weight = Entry("weight", (in_type.channels, self.out_channels // self.groups, kh, kw))
        return [weight] + ([Entry("bias", (self.out_channels,))] if self.bias else [])

    def macs(self, inputs) -> int:
        kh, kw = self.kernel
        return inputs[0].numel * (self.out_channels // self.groups) * kh * kw

    def other_flops(self, inputs) -> int:
        return self.type.numel if self.bias else 0


class ZeroPad(Stateless, NoMacs, NodeBase):
    op: Literal["zeropad"] = "zeropad"
    padding: Sides  # top, bottom, left, right

    FAMILY = "reshape"

    def infer(self, inputs) -> Result:
        (t,) = inputs
        problems = need_spatial(self, t)
        if problems:
            return None, problems
        top, bottom, left, right = self.padding
        return image_type(t.channels, t.height + top + bottom, t.width + left + right), []

    def other_flops(self, inputs) -> int:
        return 0


__all__ = ["Conv", "Deconv", "ZeroPad", "conv_out", "sides", "window", "SameType"]
