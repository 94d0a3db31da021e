"""Ops that join several values: add, mul, concat."""


from typing import Literal

from archdsl.ir.ops.base import NoMacs, NodeBase, Problem, Result, Stateless, TensorType, broadcast_all, hw, image_type

MANY = 1 << 16


class Add(Stateless, NoMacs, NodeBase):
    op: Literal["add"] = "add"
    ARITY = (2, MANY)
    FAMILY = "merge"

    def infer(self, inputs) -> Result:
        if not all_plain(inputs):
            return broadcast_all(self, inputs)
        first = inputs[0]
        for i, t in enumerate(inputs[1:], start=1):
            if t.channels != first.channels:
                return first, [Problem(
                    "E0301", f"add: channels differ ({first.channels} vs {t.channels})",
                    f"adds {first} and {t}",
                    "make both sides end with the same channels; a block that changes channels or stride "
                    "needs a projection shortcut (shortcut=proj or auto)", blame_input=i)]
            if (t.height, t.width) != (first.height, first.width):
                return first, [Problem(
                    "E0302", f"add: sizes differ ({hw(first)} vs {hw(t)})", f"adds {first} and {t}",
                    "both sides must reach the same size: the same total stride (a shortcut needs its block's "
                    "stride), and convs and pools that keep the size (a 3x3 needs pad=1; an even kernel or "
                    "ceil=true changes it by one)",
                    blame_input=i)]
        return first, []

    def other_flops(self, inputs) -> int:
        return (len(inputs) - 1) * self.type.numel


class Mul(Stateless, NoMacs, NodeBase):
    """Elementwise product; the second input may be a per-channel (Cx1x1) gate of an image.
    A flat vector is multiplied only by a flat vector of its width: anything else would be
    broadcast by torch to another shape than the first input's."""

    op: Literal["mul"] = "mul"
    ARITY = (2, 2)
    FAMILY = "merge"

    def infer(self, inputs) -> Result:
        if not all_plain(inputs):
            return broadcast_all(self, inputs)
        x, gate = inputs
        same_kind = x.is_flat == gate.is_flat
        ok_spatial = same_kind and (gate.height, gate.width) in ((x.height, x.width), (1, 1))
        if gate.channels != x.channels or not ok_spatial:
            why = ("a flat vector and an image do not multiply: flatten both, or neither"
                   if not same_kind else "the gate must have the input's channels, and its size or 1x1")
            return x, [Problem("E0308", f"mul: a {gate} gate does not fit a {x} input",
                               f"multiplies {x} by {gate}", why, blame_input=1)]
        return x, []

    def other_flops(self, inputs) -> int:
        return self.type.numel


class Concat(Stateless, NoMacs, NodeBase):
    """Values joined along an axis: an image's or a vector's channels, or `axis` (its position)."""

    op: Literal["concat"] = "concat"
    axis: int | None = None
    ARITY = (1, MANY)
    FAMILY = "merge"

    def infer(self, inputs) -> Result:
        if self.axis is not None:
            return self._along_axis(inputs)
        first = inputs[0]
        if not all_plain(inputs):
            return None, [Problem("E0341", f"concat of {first}: say along which axis", f"joins {first}",
                                  f"write `concat from ... axis=NAME` with one of {', '.join(first.axes)}")]
        for i, t in enumerate(inputs[1:], start=1):
            if (t.height, t.width) != (first.height, first.width):
                return None, [Problem(
                    "E0307", f"concat: sizes differ ({hw(first)} vs {hw(t)})", f"joins {first} and {t}",
                    "concatenated values must share height and width", blame_input=i)]
        return image_type(sum(t.channels for t in inputs), first.height, first.width), []

    def _along_axis(self, inputs) -> Result:
        first = inputs[0]
        for i, t in enumerate(inputs[1:], start=1):
            others = [s for k, s in enumerate(t.shape) if k != self.axis]
            if t.rank != first.rank or others != [s for k, s in enumerate(first.shape) if k != self.axis]:
                return None, [Problem("E0342", f"concat along `{first.axes[self.axis]}`: {first} and {t} differ "
                                      "on another axis", f"joins {first} and {t}",
                                      "every other axis must have the same size", blame_input=i)]
        shape = list(first.shape)
        shape[self.axis] = sum(t.shape[self.axis] for t in inputs)
        return TensorType(shape=tuple(shape), axes=first.axes, batched=any(t.batched for t in inputs)), []

    def other_flops(self, inputs) -> int:
        return 0


def all_plain(inputs) -> bool:
    """Whether every input is a batched image or vector: what the CNN rules (and their words) are for."""
    return all(t.batched and (t.is_image or t.is_flat) for t in inputs)
