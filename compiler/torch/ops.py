"""One small lowering per IR op. Each takes the node, its inputs (fx values) and a
context, and returns the fx value of its output. The table is checked for
completeness against the IR's op set by the tests. Activations are lowered from
their table (archdsl.ir.ops.act): the torch function it names, with its keywords."""

from __future__ import annotations

import operator
from functools import reduce

import torch
import torch.nn.functional as F
from torch import nn

from archdsl.backends.torch.tensor_ops import LOWERINGS as TENSOR_LOWERINGS
from archdsl.backends.torch.tensor_ops import elementwise
from archdsl.ir.nodes import ACTIVATIONS


def _conv(node, xs, ctx):
    in_channels = ctx.in_type(node).channels
    module = nn.Conv2d(in_channels, node.out_channels, node.kernel, node.stride, node.padding, node.dilation,
                       node.groups, node.bias)
    return ctx.call_module(node.path, module, xs)


def _bn(node, xs, ctx):
    return ctx.call_module(node.path, nn.BatchNorm2d(ctx.in_type(node).channels, node.eps, node.momentum), xs)


class PartBiasLinear(nn.Linear):
    """nn.Linear whose bias entries `unused` (start, stop) are taken as 0 in the forward, though
    held in the state_dict: Swin V2's qkv, whose key bias torchvision zeroes on a copy each forward."""

    def __init__(self, in_features: int, out_features: int, unused: tuple[int, int]):
        super().__init__(in_features, out_features)
        self.unused = unused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias.clone()
        bias[self.unused[0]:self.unused[1]] = 0
        return F.linear(x, self.weight, bias)


class FrozenBatchNorm2d(nn.Module):
    """Batch norm with fixed statistics and affine values, all four buffers (torchvision's
    FrozenBatchNorm2d, the same arithmetic in the same order): x * scale + shift, where
    scale = weight / sqrt(running_var + eps) and shift = bias - running_mean * scale. A checkpoint of a
    plain BatchNorm2d loads into it: its `num_batches_tracked` is dropped."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        for name, value in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
            self.register_buffer(name, torch.full((channels,), value))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w, b, rv, rm = (t.reshape(1, -1, 1, 1) for t in (self.weight, self.bias, self.running_var, self.running_mean))
        scale = w * (rv + self.eps).rsqrt()
        return x * scale + (b - rm * scale)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}"


def _frozen_bn(node, xs, ctx):
    return ctx.call_module(node.path, FrozenBatchNorm2d(ctx.in_type(node).channels, node.eps), xs)


def _linear(node, xs, ctx):
    in_features = ctx.in_type(node).channels
    if node.bias_unused is not None and node.bias:
        return ctx.call_module(node.path, PartBiasLinear(in_features, node.out_features, node.bias_unused), xs)
    return ctx.call_module(node.path, nn.Linear(in_features, node.out_features, node.bias), xs)


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


def _concat(node, xs, ctx):
    """Along the channels (dim 1), or `axis`; a value the same for every sample (a class token)
    is expanded to the batch of the others first."""
    if node.axis is None:
        return ctx.graph.call_function(torch.cat, (list(xs), 1))
    types = [ctx.ir[i].type for i in node.inputs]
    batched = next((x for x, t in zip(xs, types) if t.batched), None)
    if batched is not None:
        batch = ctx.graph.call_method("size", (batched, 0))
        xs = [x if t.batched else ctx.graph.call_method("expand", (x, batch, *[-1] * t.rank))
              for x, t in zip(xs, types)]
    return ctx.graph.call_function(torch.cat, (list(xs), node.axis + 1))


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
        ctx.graph.call_function(torch._assert, (fits, f"{ctx.ir.name} takes {t.height}x{t.width} images: "
                                                      f"{ctx.ir.size_fixed_why} (at {where}); for another size, "
                                                      f"build with input_size=(height, width)"))
    return x


def _output(node, xs, ctx):
    """The one unnamed output as a tensor; named outputs (an `output from` list, a features_only
    graph's maps) as a list in their order, even of one, as timm's features_only models return them."""
    return ctx.graph.output(xs[0] if node.names is None else list(xs))


def _deconv(node, xs, ctx):
    module = nn.ConvTranspose2d(ctx.in_type(node).channels, node.out_channels, node.kernel, node.stride,
                                node.padding, node.output_padding, node.groups, node.bias, node.dilation)
    return ctx.call_module(node.path, module, xs)


def _channels_last(ctx, x):
    return ctx.graph.call_method("permute", (x, 0, 2, 3, 1))


def _channels_first(ctx, x):
    return ctx.graph.call_method("permute", (x, 0, 3, 1, 2))


def _per_position(ctx, node, module, xs):
    """`module` applied over the channels at each position of an image, as torchvision's
    ConvNeXt does: permute to NHWC, apply, permute back. On anything else (a vector, a token
    sequence), whose features are its last axis, applied directly."""
    if not ctx.in_type(node).is_image:
        return ctx.call_module(node.path, module, xs)
    inner = ctx.call_module(node.path, module, [_channels_last(ctx, xs[0])])
    return _channels_first(ctx, inner)


def _layernorm(node, xs, ctx):
    return _per_position(ctx, node, nn.LayerNorm(ctx.in_type(node).channels, node.eps), xs)


def _groupnorm(node, xs, ctx):
    return ctx.call_module(node.path, nn.GroupNorm(node.groups, ctx.in_type(node).channels, node.eps), xs)


def _position_linear(node, xs, ctx):
    return _per_position(ctx, node, nn.Linear(ctx.in_type(node).channels, node.out_features, node.bias), xs)


def _layer_scale(node, xs, ctx):
    channels = ctx.in_type(node).channels
    scale = ctx.get_parameter(node.path, nn.Parameter(torch.full((channels, 1, 1), node.init)))
    return ctx.graph.call_function(operator.mul, (scale, xs[0]))


class StochasticDepth(nn.Module):
    """torchvision.ops.stochastic_depth as a module (it reads `self.training`): in training, keep
    each sample (`row`) or the whole batch (`batch`) with probability 1-p, scaled by 1/(1-p)."""

    def __init__(self, p: float, mode: str):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"


def _stochastic_depth(node, xs, ctx):
    return ctx.call_module(node.path, StochasticDepth(node.p, node.mode), xs)


def _adaptive(fn):
    return lambda node, xs, ctx: ctx.graph.call_function(fn, (xs[0], node.size))


def _upsample(node, xs, ctx):
    if node.matches_input:  # the size of the second input as it is at run time
        shape = ctx.graph.call_function(getattr, (xs[1], "shape"))
        size = {"size": ctx.graph.call_function(operator.getitem, (shape, slice(-2, None)))}
    else:
        size = {"size": node.size} if node.size is not None else {"scale_factor": node.scale}
    return ctx.graph.call_function(F.interpolate, (xs[0],), {**size, "mode": node.mode,
                                                             "align_corners": node.align_corners})


def _shuffle(node, xs, ctx):
    """ShuffleNet's channel shuffle: the channels as groups x C/groups, transposed, flattened back
    (torchvision's view, transpose, contiguous, view; the same permutation of the same values)."""
    channels = ctx.in_type(node).channels
    grouped = ctx.graph.call_method("unflatten", (xs[0], 1, (node.groups, channels // node.groups)))
    swapped = ctx.graph.call_method("transpose", (grouped, 1, 2))
    return ctx.graph.call_method("flatten", (swapped, 1, 2))


def torch_function(dotted: str):
    """The torch function a dotted name (`torch.nn.functional.gelu`) names."""
    first, *rest = dotted.split(".")
    assert first == "torch", dotted
    return reduce(getattr, rest, torch)


def _activation(name: str):
    definition = ACTIVATIONS[name]
    fn = torch_function(definition.torch)
    return lambda node, xs, ctx: ctx.graph.call_function(fn, tuple(xs), definition.keywords(node))


LOWERINGS = {
    "input": _input,
    "output": _output,
    "identity": lambda node, xs, ctx: xs[0],
    "conv": _conv,
    "bn": _bn,
    "frozen_bn": _frozen_bn,
    "linear": _linear,
    "dropout": _dropout,
    **{name: _activation(name) for name in ACTIVATIONS},
    "deconv": _deconv,
    "layernorm": _layernorm,
    "groupnorm": _groupnorm,
    "position_linear": _position_linear,
    "layer_scale": _layer_scale,
    "stochastic_depth": _stochastic_depth,
    "adaptive_avgpool": _adaptive(F.adaptive_avg_pool2d),
    "adaptive_maxpool": _adaptive(F.adaptive_max_pool2d),
    "upsample": _upsample,
    "shuffle": _shuffle,
    "maxpool": _maxpool,
    "avgpool": _avgpool,
    "global_avgpool": _function(F.adaptive_avg_pool2d, output_size=1),
    "flatten": _function(torch.flatten, start_dim=1),
    "zeropad": _zeropad,
    "add": elementwise(operator.add, torch.add),
    "mul": elementwise(operator.mul, torch.mul),
    "concat": _concat,
    "slice": _slice,
    **TENSOR_LOWERINGS,
}
