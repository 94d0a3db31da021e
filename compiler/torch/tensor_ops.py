"""Lowerings of the ops on named axes (archdsl.ir.ops.tensor).

At run time every value carries a leading batch axis: the batch for a value computed from the
input, 1 for one that is the same for every sample (a learned tensor, a mask). Axes are aligned
by the IR's types, so where two values of different rank meet, the shorter gains unit axes after
its batch axis before torch broadcasts them from the right.
"""

from __future__ import annotations

import operator

import torch
import torch.nn.functional as F
from torch import nn

from archdsl.ir.nodes import coords_table, relative_position_index, shift_mask


def _reshape(ctx, x, shape):
    return ctx.graph.call_method("reshape", (x, -1, *shape))


def _plan_steps(ctx, x, in_shape, plan):
    """Reshape to the pattern's elementary axes and permute them as `plan` says."""
    if tuple(plan.split) != tuple(in_shape):
        x = _reshape(ctx, x, plan.split)
    if tuple(plan.order) != tuple(range(len(plan.order))):
        x = ctx.graph.call_method("permute", (x, 0, *(i + 1 for i in plan.order)))
    return x


def _rearrange(node, xs, ctx):
    t = ctx.in_type(node)
    plan = node.plan(t)
    x = _plan_steps(ctx, xs[0], t.shape, plan)
    kept = tuple(plan.split[i] for i in plan.order)
    return x if kept == tuple(plan.shape) else _reshape(ctx, x, plan.shape)


_REDUCERS = {"mean": torch.mean, "sum": torch.sum, "max": torch.amax}


def _reduce(node, xs, ctx):
    t = ctx.in_type(node)
    plan = node.plan(t)
    x = xs[0] if tuple(plan.split) == tuple(t.shape) else _reshape(ctx, xs[0], plan.split)
    dims = tuple(i + 1 for i in plan.reduced)
    if not dims:  # a pattern that reduces no axis: torch would reduce them all given dim=()
        x = ctx.graph.call_function(torch.abs, (x,)) if node.mode == "l2" else x
    elif node.mode == "l2":
        x = ctx.graph.call_function(torch.linalg.vector_norm, (x,), {"dim": dims})
    else:
        x = ctx.graph.call_function(_REDUCERS[node.mode], (x,), {"dim": dims})
    kept = [i for i in range(len(plan.split)) if i not in plan.reduced]
    order = tuple(kept.index(i) for i in plan.order)
    if order != tuple(range(len(order))):
        x = ctx.graph.call_method("permute", (x, 0, *(i + 1 for i in order)))
    return _reshape(ctx, x, plan.shape)


def _softmax(node, xs, ctx):
    return ctx.graph.call_function(F.softmax, (xs[0],), {"dim": node.axis + 1})


def _roll(node, xs, ctx):
    shifts = tuple(s for _, s in node.shifts)
    dims = tuple(a + 1 for a, _ in node.shifts)
    return ctx.graph.call_function(torch.roll, (xs[0],), {"shifts": shifts, "dims": dims})


def _crop(node, xs, ctx):
    t = ctx.in_type(node)
    index = [slice(None)] * (t.rank + 1)
    for axis, start, stop in node.ranges:
        index[axis + 1] = slice(start, stop)
    return ctx.graph.call_function(operator.getitem, (xs[0], tuple(index)))


def _select(node, xs, ctx):
    index = (slice(None),) * (node.axis + 1) + (node.index,)
    return ctx.graph.call_function(operator.getitem, (xs[0], index))


def _pad(node, xs, ctx):
    t = ctx.in_type(node)
    widths = {axis: (before, after) for axis, before, after in node.pads}
    flat = []
    for axis in range(t.rank - 1, min(widths) - 1, -1):  # F.pad lists the last axis first
        flat += widths.get(axis, (0, 0))
    return ctx.graph.call_function(F.pad, (xs[0], tuple(flat)))


def aligned(ctx, node, xs):
    """The inputs of a broadcasting op, each given unit axes after its batch axis up to the rank
    of the widest (torch aligns from the right, and the batch must meet the batch)."""
    types = [ctx.ir[i].type for i in node.inputs]
    rank = max(t.rank for t in types)
    out = []
    for x, t in zip(xs, types):
        if t.rank < rank:
            x = ctx.graph.call_function(operator.getitem, (x, (slice(None),) + (None,) * (rank - t.rank)))
        out.append(x)
    return out


def _plain(ctx, node) -> bool:
    """Whether every input is a batched image or vector of the output's rank (the CNN rules)."""
    types = [ctx.ir[i].type for i in node.inputs]
    return all(t.batched and (t.is_image or t.is_flat) and t.rank == node.type.rank for t in types)


def elementwise(function, fallback):
    """`function` (which the in-place pass may turn into its in-place twin) between images or
    vectors, as the CNN rules shape them; `fallback`, never made in place, where values of other
    kinds broadcast."""
    def lower(node, xs, ctx):
        if _plain(ctx, node):
            out = xs[0]
            for x in xs[1:]:
                out = ctx.graph.call_function(function, (out, x))
            return out
        xs = aligned(ctx, node, xs)
        out = xs[0]
        for x in xs[1:]:
            out = ctx.graph.call_function(fallback, (out, x))
        return out
    return lower


_SCALAR = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
           "pow": operator.pow}


def _scalar(node, xs, ctx):
    if node.kind in ("rsub", "rdiv"):
        function = operator.sub if node.kind == "rsub" else operator.truediv
        return ctx.graph.call_function(function, (node.value, xs[0]))
    return ctx.graph.call_function(_SCALAR[node.kind], (xs[0], node.value))


def _matmul(node, xs, ctx):
    a, b = aligned(ctx, node, xs)
    if node.transpose:
        b = ctx.graph.call_method("transpose", (b, -2, -1))
    return ctx.graph.call_function(torch.matmul, (a, b))


_INIT = {"zeros": torch.zeros, "ones": torch.ones}


def _initial(node) -> torch.Tensor:
    shape = ((1,) if node.lead else ()) + tuple(node.shape)
    if node.init in _INIT:
        return _INIT[node.init](shape)
    if node.init == "constant":
        return torch.full(shape, node.value)
    tensor = torch.empty(shape)
    if node.init == "normal":
        return nn.init.normal_(tensor, std=node.std)
    return nn.init.trunc_normal_(tensor, std=node.std)


def _tensor(node, xs, ctx):
    value = ctx.get_parameter(node.path, nn.Parameter(_initial(node)))
    return value if node.lead else ctx.graph.call_method("unsqueeze", (value, 0))


class Constant(nn.Module):
    """A tensor made at build time and kept out of the state_dict (a non-persistent buffer that
    follows the module to its device and dtype): Swin's shifted-window mask."""

    def __init__(self, value: torch.Tensor):
        super().__init__()
        self.register_buffer("value", value, persistent=False)

    def forward(self) -> torch.Tensor:
        return self.value


def _shift_mask(node, xs, ctx):
    mask = torch.tensor(shift_mask(node.grid, node.window, node.shift))  # windows x n x n
    return ctx.call_module(node.path, Constant(mask[None, :, None]), [])


def _position_bias(node, xs, ctx):
    index = torch.tensor(relative_position_index(node.window))
    if not node.flat:
        index = index.view(node.n, node.n)
    buffer = ctx.get_buffer(node.path, index)
    flat = buffer if node.flat else ctx.graph.call_method("view", (buffer, -1))
    rows = ctx.graph.call_function(operator.getitem, (xs[0], (slice(None), flat)))  # 1 x n*n x heads
    grid = ctx.graph.call_method("view", (rows, 1, node.n, node.n, -1))
    return ctx.graph.call_method("permute", (grid, 0, 3, 1, 2))


def _attention(node, xs, ctx):
    t = ctx.in_type(node)
    module = nn.MultiheadAttention(t.channels, node.heads, dropout=node.dropout, batch_first=True)
    out = ctx.call_module(node.path, module, [xs[0]] * 3, {"need_weights": False})
    return ctx.graph.call_function(operator.getitem, (out, 0))


def _clamp(node, xs, ctx):
    return ctx.graph.call_function(torch.clamp, (xs[0],), {"min": node.min, "max": node.max})


def _coords_table(node, xs, ctx):
    return ctx.get_buffer(node.path, torch.tensor(coords_table(node.window), dtype=torch.float32)[None])


LOWERINGS = {
    "clamp": _clamp,
    "coords_table": _coords_table,
    "rearrange": _rearrange,
    "reduce": _reduce,
    "softmax": _softmax,
    "roll": _roll,
    "crop": _crop,
    "select": _select,
    "pad": _pad,
    "sub": elementwise(operator.sub, torch.sub),
    "div": elementwise(operator.truediv, torch.div),
    "scalar": _scalar,
    "matmul": _matmul,
    "tensor": _tensor,
    "shift_mask": _shift_mask,
    "position_bias": _position_bias,
    "attention": _attention,
}
