"""One small lowering per IR op. Each takes the node, its inputs (fx values) and a
context, and returns the fx value of its output. The table is checked for
completeness against the IR's op set by the tests."""

from __future__ import annotations

import operator

import torch
import torch.nn.functional as F
from torch import nn


def _conv(node, xs, ctx):
    in_channels = ctx.in_type(node).channels
    module = nn.Conv2d(in_channels, node.out_channels, node.kernel, node.stride, node.padding, node.dilation,
                       node.groups, node.bias)
    return ctx.call_module(node.path, module, xs)


def _bn(node, xs, ctx):
    return ctx.call_module(node.path, nn.BatchNorm2d(ctx.in_type(node).channels, node.eps, node.momentum), xs)


def _linear(node, xs, ctx):
    return ctx.call_module(node.path, nn.Linear(ctx.in_type(node).channels, node.out_features, node.bias), xs)


def _dropout(node, xs, ctx):
    return ctx.call_module(node.path, nn.Dropout(node.p), xs)


def _function(fn, **kwargs):
    return lambda node, xs, ctx: ctx.graph.call_function(fn, tuple(xs), dict(kwargs))


def _maxpool(node, xs, ctx):
    x, padding = xs[0], node.padding
    if len(padding) == 4:  # uneven: pad with -inf, which never wins a maximum
        x, padding = _pad(ctx, x, padding, float("-inf")), (0, 0)
    return ctx.graph.call_function(F.max_pool2d, (x, node.kernel, node.stride, padding),
                                   {"ceil_mode": node.ceil_mode})


def _avgpool(node, xs, ctx):
    if len(node.padding) == 2:
        return ctx.graph.call_function(F.avg_pool2d, (xs[0], node.kernel, node.stride, node.padding),
                                       {"ceil_mode": node.ceil_mode, "count_include_pad": node.count_include_pad})
    window = (node.kernel, node.stride, (0, 0))
    pooled = ctx.graph.call_function(F.avg_pool2d, (_pad(ctx, xs[0], node.padding), *window))
    if node.count_include_pad:
        return pooled
    # uneven and leaving the padding out: divide by the share of each window that is image
    one_channel = ctx.graph.call_function(operator.getitem, (xs[0], (slice(None, 1), slice(None, 1))))
    image = ctx.graph.call_function(torch.ones_like, (one_channel,))
    share = ctx.graph.call_function(F.avg_pool2d, (_pad(ctx, image, node.padding), *window))
    return ctx.graph.call_function(operator.truediv, (pooled, share))


def _zeropad(node, xs, ctx):
    return _pad(ctx, xs[0], node.padding)


def _pad(ctx, x, padding, value=0.0):
    """`x` padded by (top, bottom, left, right) with `value`."""
    top, bottom, left, right = padding
    return ctx.graph.call_function(F.pad, (x, (left, right, top, bottom)), {"value": value} if value else {})


def _add(node, xs, ctx):
    out = xs[0]
    for x in xs[1:]:
        out = ctx.graph.call_function(operator.add, (out, x))
    return out


def _concat(node, xs, ctx):
    return ctx.graph.call_function(torch.cat, (list(xs), 1))


def _slice(node, xs, ctx):
    index = (slice(None), slice(node.start, node.start + node.size))
    return ctx.graph.call_function(operator.getitem, (xs[0], index))


def _input(node, xs, ctx):
    x = ctx.graph.placeholder("x")
    where = ctx.ir.size_fixed_by
    if where is not None:  # a strided pad=same was worked out for the declared size only
        t = node.type
        size = ctx.graph.call_function(operator.getitem, (ctx.graph.call_function(getattr, (x, "shape")),
                                                          slice(-2, None)))
        fits = ctx.graph.call_function(operator.eq, (size, (t.height, t.width)))
        ctx.graph.call_function(torch._assert, (fits, f"{ctx.ir.name} takes {t.height}x{t.width} images: the "
                                                      f"pad=same padding at {where} is worked out for that size; "
                                                      f"for another, build with input_size=(height, width)"))
    return x


LOWERINGS = {
    "input": _input,
    "output": lambda node, xs, ctx: ctx.graph.output(xs[0]),
    "identity": lambda node, xs, ctx: xs[0],
    "conv": _conv,
    "bn": _bn,
    "linear": _linear,
    "dropout": _dropout,
    "relu": _function(torch.relu),
    "sigmoid": _function(torch.sigmoid),
    "softmax": _function(torch.softmax, dim=1),
    "maxpool": _maxpool,
    "avgpool": _avgpool,
    "global_avgpool": _function(F.adaptive_avg_pool2d, output_size=1),
    "flatten": _function(torch.flatten, start_dim=1),
    "zeropad": _zeropad,
    "add": _add,
    "mul": _function(operator.mul),
    "concat": _concat,
    "slice": _slice,
}
