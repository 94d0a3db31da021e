"""Ops on axes: rearrange and reduce by pattern, softmax over an axis, roll, slice, select, pad,
arithmetic with broadcasting, matrix products, and tensors the network holds (learned, or made
from a recipe).

Axes are named (archdsl.ir.ops.base.TensorType); an op that acts along an axis records its
position among the sample's axes (`axis`, counted without the batch), resolved by the builder
from the name written in the spec.
"""


import math
from typing import ClassVar, Literal

from pydantic import Field

from archdsl.ir import axes as A
from archdsl.ir.ops.base import (Entry, Free, NodeBase, NoMacs, Problem, Result, SameType, Stateless, TensorType,
                                 broadcast, broadcast_all)
from archdsl.ir.ops.merge import MANY


def pattern_problem(error: A.PatternError) -> Problem:
    return Problem("E0340", error.message, "pattern does not fit", error.help)


class Rearrange(Free, NodeBase):
    """Axes reshaped and reordered by an einops pattern: the same values in another layout."""

    op: Literal["rearrange"] = "rearrange"
    pattern: str
    sizes: tuple[tuple[str, int], ...] = ()
    VIEW = True
    FAMILY = "reshape"

    def plan(self, t: TensorType) -> A.Plan:
        return A.planned(self.pattern, self.op == "rearrange", t.shape, tuple(self.sizes))

    def infer(self, inputs) -> Result:
        (t,) = inputs
        try:
            plan = self.plan(t)
        except A.PatternError as error:
            return None, [pattern_problem(error)]
        return t.with_shape(plan.shape, plan.axes), []


class Reduce(Rearrange):
    """Axes reduced by an einops pattern (`c h w -> c`, `c h w -> c 1 1`): mean, sum, max or the
    L2 norm of the values each output element gathers. The pattern and its plan are a rearrange's,
    with the names the right side leaves out reduced."""

    op: Literal["reduce"] = "reduce"
    mode: Literal["mean", "sum", "max", "l2"]
    VIEW = False
    FAMILY = "pool"

    def other_flops(self, inputs) -> int:
        return inputs[0].numel * (2 if self.mode == "l2" else 1)


class Softmax(Stateless, NoMacs, SameType, NodeBase):
    """Softmax along one axis (`axis`: its position among the sample's axes)."""

    op: Literal["softmax"] = "softmax"
    axis: int = 0
    FAMILY = "activation"

    def other_flops(self, inputs) -> int:
        return 3 * self.type.numel


class Roll(Free, SameType, NodeBase):
    """The values shifted cyclically along axes (torch.roll): `shifts` per axis position."""

    op: Literal["roll"] = "roll"
    shifts: tuple[tuple[int, int], ...]
    FAMILY = "reshape"


class Crop(Free, NodeBase):
    """A range along each of some axes: (axis, start, stop) each; `x[..., start:stop, ...]`."""

    op: Literal["crop"] = "crop"
    ranges: tuple[tuple[int, int, int], ...]
    VIEW = True
    FAMILY = "reshape"

    def infer(self, inputs) -> Result:
        (t,) = inputs
        shape = list(t.shape)
        for axis, start, stop in self.ranges:
            if not 0 <= start < stop <= shape[axis]:
                return None, [Problem("E0341", f"{t.axes[axis]}={start}..{stop} is outside the axis "
                                      f"(size {shape[axis]})", "outside the axis",
                                      f"a range on `{t.axes[axis]}` lies within 0..{shape[axis]}")]
            shape[axis] = stop - start
        return t.with_shape(shape), []


class Select(Free, NodeBase):
    """One position along an axis, the axis dropped (`x[:, 0]`: a class token)."""

    op: Literal["select"] = "select"
    axis: int
    index: int
    VIEW = True
    FAMILY = "reshape"

    def infer(self, inputs) -> Result:
        (t,) = inputs
        if self.index >= t.shape[self.axis]:
            return None, [Problem("E0341", f"position {self.index} is outside `{t.axes[self.axis]}` "
                                  f"(size {t.shape[self.axis]})", "outside the axis",
                                  f"positions on `{t.axes[self.axis]}` run from 0 to {t.shape[self.axis] - 1}")]
        keep = [i for i in range(t.rank) if i != self.axis]
        return t.with_shape([t.shape[i] for i in keep], [t.axes[i] for i in keep]), []


class Pad(Free, NodeBase):
    """Zeros added before and after along axes: (axis, before, after) each."""

    op: Literal["pad"] = "pad"
    pads: tuple[tuple[int, int, int], ...]
    FAMILY = "reshape"

    def infer(self, inputs) -> Result:
        (t,) = inputs
        shape = list(t.shape)
        for axis, before, after in self.pads:
            shape[axis] += before + after
        return t.with_shape(shape), []


class _Elementwise(Stateless, NoMacs, NodeBase):
    ARITY = (2, 2)
    FAMILY = "merge"

    def infer(self, inputs) -> Result:
        return broadcast_all(self, inputs)

    def other_flops(self, inputs) -> int:
        return self.type.numel


class Sub(_Elementwise):
    """The first value less the second, the two broadcast."""

    op: Literal["sub"] = "sub"


class Div(_Elementwise):
    """The first value divided by the second, the two broadcast."""

    op: Literal["div"] = "div"


class Scalar(Stateless, NoMacs, SameType, NodeBase):
    """A value and a constant: x + k, x - k, x * k, x / k, k - x, k / x, or x ** k."""

    op: Literal["scalar"] = "scalar"
    kind: Literal["add", "sub", "mul", "div", "rsub", "rdiv", "pow"]
    value: float
    FAMILY = "activation"

    def other_flops(self, inputs) -> int:
        return self.type.numel


class Clamp(Stateless, NoMacs, SameType, NodeBase):
    """The values held within [min, max] (either may be left open): torch.clamp."""

    op: Literal["clamp"] = "clamp"
    min: float | None = None
    max: float | None = None
    FAMILY = "activation"

    def other_flops(self, inputs) -> int:
        return self.type.numel


class CoordsTable(Stateless, NoMacs, NodeBase):
    """Swin V2's table of relative coordinates between the positions of a window: for each offset
    (dy, dx) in (2h-1) x (2w-1), the pair scaled to -8..8 and log-spaced, sign(v) log2(|v| + 1) / 3.
    A buffer at this node's path, stored with a leading axis of 1, as torchvision registers it."""

    op: Literal["coords_table"] = "coords_table"
    has_state: bool = Field(default=True, exclude=True)
    window: tuple[int, int]
    ARITY = (0, 0)
    VIEW = True
    FAMILY = "reshape"

    def infer(self, inputs) -> Result:
        h, w = self.window
        return TensorType(shape=(2 * h - 1, 2 * w - 1, 2), axes=("oh", "ow", "yx"), batched=False), []

    def state(self, in_type) -> list[Entry]:
        h, w = self.window
        return [Entry("", (1, 2 * h - 1, 2 * w - 1, 2), False)]

    def other_flops(self, inputs) -> int:
        return 0


def coords_table(window: tuple[int, int]) -> list:
    """The values of CoordsTable, (2h-1) x (2w-1) x 2, as nested lists."""
    def scaled(offset: int, size: int) -> float:
        v = 8 * offset / (size - 1)
        return math.copysign(math.log2(abs(v) + 1.0) / 3.0, v) if v else 0.0
    h, w = window
    return [[[scaled(dy, h), scaled(dx, w)] for dx in range(-(w - 1), w)] for dy in range(-(h - 1), h)]


class MatMul(Stateless, NodeBase):
    """Matrix product over the last two axes, the axes before them broadcast (torch.matmul);
    with `transpose`, of the first by the second's transpose (q @ k^T)."""

    op: Literal["matmul"] = "matmul"
    transpose: bool = False
    ARITY = (2, 2)
    FAMILY = "linear"

    def _sides(self, inputs):
        a, b = inputs
        rows, inner = a.shape[-2:]
        b_inner, cols = (b.shape[-1], b.shape[-2]) if self.transpose else b.shape[-2:]
        return a, b, rows, inner, b_inner, cols

    def infer(self, inputs) -> Result:
        a, b = inputs
        if a.rank < 2 or b.rank < 2:
            return None, [Problem("E0343", f"matmul needs two axes on each side, got {a} and {b}",
                                  "needs matrices", "rearrange the values so their last two axes are the matrices")]
        a, b, rows, inner, b_inner, cols = self._sides(inputs)
        if inner != b_inner:
            which = "last" if self.transpose else "second-to-last"
            return None, [Problem("E0343", f"matmul: {a}'s last axis ({inner}) and {b}'s {which} ({b_inner}) "
                                  "differ", f"multiplies {a} by {b}",
                                  "the first's columns must be the second's rows"
                                  + ("" if self.transpose else "; for q @ k^T write transpose=true"),
                                  blame_input=1)]
        lead = broadcast(a.with_shape(a.shape[:-2], a.axes[:-2]), b.with_shape(b.shape[:-2], b.axes[:-2])) \
            if a.rank > 2 or b.rank > 2 else TensorType(shape=(), axes=(), batched=a.batched or b.batched)
        if lead is None:
            return None, [Problem("E0343", f"matmul: the leading axes of {a} and {b} do not broadcast",
                                  f"multiplies {a} by {b}", "the axes before the matrices must match or be 1",
                                  blame_input=1)]
        col_name = (b.axes[-2] if self.transpose else b.axes[-1])
        row_name = a.axes[-2]
        if col_name in (*lead.axes, row_name):
            col_name = next(f"{col_name}{k}" for k in range(2, 100) if f"{col_name}{k}" not in lead.axes + (row_name,))
        return TensorType(shape=(*lead.shape, rows, cols), axes=(*lead.axes, row_name, col_name),
                          batched=a.batched or b.batched), []

    def macs(self, inputs) -> int:
        return self.type.numel * inputs[0].shape[-1]

    def other_flops(self, inputs) -> int:
        return 0


INITS = ("zeros", "ones", "normal", "trunc_normal", "constant")


class LearnedTensor(Stateless, NoMacs, NodeBase):
    """A tensor the network learns, the same for every sample: a class token, a position
    embedding, a bias table. Its state_dict key is its path; `lead` stores it with a leading
    axis of 1 (as torchvision's `class_token`, 1x1xC)."""

    op: Literal["tensor"] = "tensor"
    has_state: bool = Field(default=True, exclude=True)
    shape: tuple[int, ...]
    axes_names: tuple[str, ...]
    lead: bool = False
    init: Literal["zeros", "ones", "normal", "trunc_normal", "constant"] = "zeros"
    std: float = 0.02
    value: float = 0.0
    ARITY = (0, 0)
    VIEW = True
    FAMILY = "linear"

    def infer(self, inputs) -> Result:
        return TensorType(shape=self.shape, axes=self.axes_names, batched=False), []

    def state(self, in_type) -> list[Entry]:
        return [Entry("", ((1,) if self.lead else ()) + self.shape)]

    def other_flops(self, inputs) -> int:
        return 0


class ShiftMask(Stateless, NoMacs, NodeBase):
    """Swin's shifted-window attention mask, made at build time and the same for every sample (not
    in the state_dict: the reference computes it in its forward): `window`, `shift`, and `grid`,
    the size of the (padded) feature map."""

    op: Literal["shift_mask"] = "shift_mask"
    window: tuple[int, int]
    shift: tuple[int, int] = (0, 0)
    grid: tuple[int, int] = (0, 0)
    ARITY = (0, 0)
    VIEW = True
    FAMILY = "reshape"

    def infer(self, inputs) -> Result:
        windows = (self.grid[0] // self.window[0]) * (self.grid[1] // self.window[1])
        n = self.window[0] * self.window[1]
        return TensorType(shape=(windows, 1, n, n), axes=("nw", "1", "i", "j"), batched=False), []

    def other_flops(self, inputs) -> int:
        return 0


class PositionBias(Stateless, NoMacs, NodeBase):
    """A relative-position bias (Swin, MaxViT): for each pair of positions (i, j) of a window,
    the row of a learned table (its input, ((2h-1)(2w-1)) x heads) at their offset. The index is a
    buffer at this node's path (`relative_position_index`), flat as Swin registers it or
    (n, n) as MaxViT does. The output is heads x n x n, the same for every sample."""

    op: Literal["position_bias"] = "position_bias"
    has_state: bool = Field(default=True, exclude=True)
    window: tuple[int, int]
    flat: bool = True
    FAMILY = "reshape"

    @property
    def n(self) -> int:
        return self.window[0] * self.window[1]

    def infer(self, inputs) -> Result:
        (table,) = inputs
        rows = (2 * self.window[0] - 1) * (2 * self.window[1] - 1)
        if table.rank != 2 or table.shape[0] != rows:
            return None, [Problem("E0341", f"a {self.window[0]}x{self.window[1]} window's bias table has {rows} "
                                  f"rows (one per offset), but its table is {table}", f"table is {table}",
                                  f'declare it `tensor "o heads" o={rows} heads=...`', blame_input=0)]
        return TensorType(shape=(table.shape[1], self.n, self.n), axes=(table.axes[1], "i", "j"), batched=False), []

    def state(self, in_type) -> list[Entry]:
        return [Entry("", (self.n * self.n,) if self.flat else (self.n, self.n), False)]

    def other_flops(self, inputs) -> int:
        return 0


def relative_position_index(window: tuple[int, int]) -> list[int]:
    """For each pair (i, j) of a window's positions, row-major, the row of the bias table of
    their offset: (dy + h - 1) * (2w - 1) + (dx + w - 1)."""
    h, w = window
    cells = [(y, x) for y in range(h) for x in range(w)]
    return [(yi - yj + h - 1) * (2 * w - 1) + (xi - xj + w - 1) for yi, xi in cells for yj, xj in cells]


def shift_regions(size: int, window: int, shift: int) -> list[int]:
    """Which of the three bands a shifted window splits an axis into each position falls in."""
    return [0 if p < size - window else (1 if p < size - shift else 2) for p in range(size)]


def shift_mask(grid: tuple[int, int], window: tuple[int, int], shift: tuple[int, int]) -> list:
    """Swin's attention mask for shifted windows: for each window, 0 between positions of one
    region and -100 between positions of different regions (nw x n x n, row-major)."""
    rows = shift_regions(grid[0], window[0], shift[0]) if shift[0] else [0] * grid[0]
    cols = shift_regions(grid[1], window[1], shift[1]) if shift[1] else [0] * grid[1]
    masks = []
    for wy in range(grid[0] // window[0]):
        for wx in range(grid[1] // window[1]):
            ids = [rows[wy * window[0] + y] * 3 + cols[wx * window[1] + x]
                   for y in range(window[0]) for x in range(window[1])]
            masks.append([[0.0 if a == b else -100.0 for b in ids] for a in ids])
    return masks


class Attention(NodeBase):
    """Multi-head self-attention over a token sequence (torch's nn.MultiheadAttention, as
    torchvision's ViT holds it): state `in_proj_weight`, `in_proj_bias`, `out_proj.weight`,
    `out_proj.bias`."""

    op: Literal["attention"] = "attention"
    has_state: bool = Field(default=True, exclude=True)
    heads: int
    dropout: float = 0.0
    FAMILY = "linear"

    def infer(self, inputs) -> Result:
        (t,) = inputs
        if t.rank != 2 or t.is_image:
            return None, [Problem("E0344", f"attention needs a token sequence (n c), but its input is {t}",
                                  f"input is {t}", 'make one first, e.g. `rearrange "c h w -> (h w) c"`')]
        if self.heads < 1 or t.channels % self.heads:
            return None, [Problem("E0344", f"{self.heads} heads do not divide the {t.channels} features",
                                  f"{t.channels} features in {self.heads} heads",
                                  f"each head takes an equal share of the features; use a divisor of {t.channels}")]
        return t, []

    def state(self, in_type) -> list[Entry]:
        c = in_type.channels
        return [Entry("in_proj_weight", (3 * c, c)), Entry("in_proj_bias", (3 * c,)),
                Entry("out_proj.weight", (c, c)), Entry("out_proj.bias", (c,))]

    def macs(self, inputs) -> int:
        n, c = inputs[0].shape
        return 4 * n * c * c + 2 * n * n * c

    def other_flops(self, inputs) -> int:
        n, c = inputs[0].shape
        return 3 * self.heads * n * n + 4 * n * c


__all__ = ["Rearrange", "Reduce", "Softmax", "Roll", "Crop", "Select", "Pad", "Sub", "Div", "Scalar", "MatMul",
           "LearnedTensor", "ShiftMask", "Clamp", "CoordsTable", "coords_table", "PositionBias", "Attention", "broadcast", "broadcast_all",
           "relative_position_index", "shift_mask", "MANY", "math", "ClassVar"]
