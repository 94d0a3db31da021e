"""Pooling and resampling: windows without weights, adaptive pools and upsampling."""


import math
from typing import ClassVar, Literal

from archdsl.ir.ops.base import NoMacs, NodeBase, Pair, Problem, Result, Sides, Stateless, image_type, need_spatial
from archdsl.ir.ops.conv import sides, window


class _Pool(Stateless, NoMacs, NodeBase):
    FAMILY = "pool"

    def infer(self, inputs) -> Result:
        t = inputs[0]
        kh, kw = self.kernel
        over = [(p, k) for p, k in zip(sides(self.padding), (kh, kh, kw, kw)) if p * 2 > k]
        if over:
            (pad, kernel), = over[:1]
            return None, [Problem("E0310", f"padding {pad} is more than half the kernel {kernel}",
                                  "too much padding", "pooling padding must be at most half the kernel size")]
        return window(self, t, self.kernel, self.stride, self.padding, ceil=self.ceil_mode)

    def other_flops(self, inputs) -> int:
        kh, kw = self.kernel
        return self.type.numel * kh * kw


class MaxPool(_Pool):
    """Max pooling; padding is (height, width) on both sides, or (top, bottom, left, right)
    where TensorFlow's `same` splits it unevenly; padded cells never win."""

    op: Literal["maxpool"] = "maxpool"
    kernel: Pair
    stride: Pair
    padding: Pair | Sides = (0, 0)
    ceil_mode: bool = False


class AvgPool(_Pool):
    """Average pooling; padding as MaxPool's. Padded cells count towards the average only
    with count_include_pad."""

    op: Literal["avgpool"] = "avgpool"
    kernel: Pair
    stride: Pair
    padding: Pair | Sides = (0, 0)
    ceil_mode: bool = False
    count_include_pad: bool = True


class _Adaptive(Stateless, NoMacs, NodeBase):
    """An image pooled to a fixed size, whatever its own size: one read per input element."""

    FAMILY = "pool"

    def output_size(self) -> Pair:
        return (1, 1)

    def infer(self, inputs) -> Result:
        (t,) = inputs
        problems = need_spatial(self, t)
        if problems:
            return None, problems
        h, w = self.output_size()
        return image_type(t.channels, h, w), []

    def other_flops(self, inputs) -> int:
        return inputs[0].numel


class GlobalAvgPool(_Adaptive):
    op: Literal["global_avgpool"] = "global_avgpool"


class AdaptiveAvgPool(_Adaptive):
    """Average pooling to `size` (torch's adaptive_avg_pool2d): windows fitted to the input."""

    op: Literal["adaptive_avgpool"] = "adaptive_avgpool"
    size: Pair

    def output_size(self) -> Pair:
        return self.size


class AdaptiveMaxPool(_Adaptive):
    """Max pooling to `size` (torch's adaptive_max_pool2d)."""

    op: Literal["adaptive_maxpool"] = "adaptive_maxpool"
    size: Pair

    def output_size(self) -> Pair:
        return self.size


class Upsample(Stateless, NoMacs, NodeBase):
    """Resampling to a larger (or any) size, as torch's F.interpolate: by `scale`, to `size`, or, with
    a second input, to that input's height and width, whatever they are when the network runs (the
    second input is read for its size alone; `upsample to=input`)."""

    op: Literal["upsample"] = "upsample"
    scale: float | None = None
    size: Pair | None = None
    mode: Literal["nearest", "bilinear"] = "nearest"
    align_corners: bool | None = None

    ARITY = (1, 2)
    FAMILY = "pool"
    #: flops per output element: nearest copies, bilinear weighs four neighbours (4 multiplies, 3 adds)
    FLOPS: ClassVar[dict[str, int]] = {"nearest": 0, "bilinear": 7}

    @property
    def matches_input(self) -> bool:
        """Whether the output takes its size from the second input (rather than `scale` or `size`)."""
        return len(self.inputs) == 2

    def infer(self, inputs) -> Result:
        t = inputs[0]
        problems = [p for x in inputs for p in need_spatial(self, x)]
        if problems:
            return None, problems[:1]
        if len(inputs) == 2:
            return image_type(t.channels, inputs[1].height, inputs[1].width), []
        h, w = self.size if self.size is not None else (
            math.floor(t.height * self.scale), math.floor(t.width * self.scale))
        if h <= 0 or w <= 0:
            return None, [Problem("E0306", f"upsample leaves no output: {t.height}x{t.width} scaled by "
                                  f"{self.scale} is {h}x{w}", f"input is {t}", "use a larger scale")]
        return image_type(t.channels, h, w), []

    def other_flops(self, inputs) -> int:
        return self.FLOPS[self.mode] * self.type.numel
