"""Modules and functions of a traced graph as the language's layers.

`layer_of(node, ctx)` maps one fx node to the statements it becomes (usually one; `x.mean((2, 3))`
is `global_avgpool` then `flatten`), or to an alias of its input (a permute to channels-last and
back, `contiguous`, `nn.Identity`), or refuses it. Values are NCHW images, channels-last images
(between torchvision's Permute modules: ConvNeXt's per-position layers) or flat vectors.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from archdsl.backends.importer.values import Word, size, square

IMAGE, CHANNELS_LAST, FLAT = "image", "channels-last", "flat"


@dataclass
class Layer:
    """One statement: its layer type, arguments, options and the values it reads (fx nodes)."""

    op: str
    args: list = field(default_factory=list)
    opts: dict = field(default_factory=dict)
    inputs: list = field(default_factory=list)


@dataclass
class Alias:
    """The node is its input under another layout: no statement of its own."""

    value: object
    layout: str


class Unsupported(Exception):
    """The importer writes the node as no layer of the language; the message says what it is."""


#: torchvision's modules the importer maps whole, by class name (torchvision is never imported)
DUCK_LEAVES = {"StochasticDepth", "Permute", "LayerNorm2d"}

ACTIVATION_MODULES = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Hardswish: "hardswish", nn.Hardsigmoid: "hardsigmoid",
                      nn.SiLU: "silu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.Mish: "mish", nn.GELU: "gelu",
                      nn.LeakyReLU: "leaky_relu", nn.ELU: "elu", nn.Softmax: "softmax"}

ACTIVATION_FUNCTIONS = {F.relu: "relu", torch.relu: "relu", F.relu_: "relu", torch.relu_: "relu", F.relu6: "relu6",
                        F.hardswish: "hardswish", F.hardsigmoid: "hardsigmoid", F.silu: "silu",
                        torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", torch.tanh: "tanh", F.tanh: "tanh",
                        F.gelu: "gelu", F.leaky_relu: "leaky_relu", F.elu: "elu", F.mish: "mish",
                        F.softmax: "softmax", torch.softmax: "softmax"}

ACTIVATION_METHODS = {"relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "sigmoid_": "sigmoid", "tanh": "tanh",
                      "softmax": "softmax"}

MAPPED_MODULES = (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm, nn.Linear, nn.MaxPool2d,
                  nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Dropout, nn.Flatten, nn.Identity,
                  nn.Upsample, nn.ZeroPad2d, nn.ChannelShuffle, *ACTIVATION_MODULES)


def is_mapped_module(module: nn.Module) -> bool:
    """A module the importer maps as one layer (so fx keeps it whole)."""
    return isinstance(module, MAPPED_MODULES) or type(module).__name__ in DUCK_LEAVES


def arg(node, index: int, name: str, default=None):
    """An fx node's argument, by position or keyword."""
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def layer_of(node, ctx):
    """The statements (a list of Layer) or the Alias that `node` becomes; raises Unsupported."""
    if node.op == "call_module":
        return _module_layer(ctx.module(node.target), node, ctx)
    if node.op == "call_function":
        return _function_layer(node, ctx)
    if node.op == "call_method":
        return _method_layer(node, ctx)
    raise Unsupported(f"a `{node.op}` node")


def _module_layer(m: nn.Module, node, ctx):
    x = node.args[0] if node.args else None
    kind = type(m).__name__
    if kind == "Permute":
        return _permute(x, list(m.dims), ctx)
    if kind == "StochasticDepth":
        opts = {"mode": Word("batch")} if m.mode == "batch" else {}
        return [Layer("stochastic_depth", [float(m.p)], opts, [x])]
    if kind == "LayerNorm2d" and isinstance(m, nn.LayerNorm):
        _check_affine_norm(m)
        return [Layer("layernorm", [], _eps(m.eps), [x])]
    if isinstance(m, tuple(ACTIVATION_MODULES)):
        return _activation(ACTIVATION_MODULES[next(c for c in ACTIVATION_MODULES if isinstance(m, c))], x, ctx,
                           slope=getattr(m, "negative_slope", None), alpha=getattr(m, "alpha", None),
                           approximate=getattr(m, "approximate", None), dim=getattr(m, "dim", 1))
    for kinds, mapper in _MODULE_MAPPERS:
        if isinstance(m, kinds):
            return mapper(m, x, ctx)
    raise Unsupported(f"module {type(m).__module__}.{type(m).__qualname__}")


def _conv(m, x, ctx):
    if m.padding_mode != "zeros":
        raise Unsupported(f"{type(m).__name__} with padding_mode={m.padding_mode!r} (the language pads with zeros)")
    transposed = isinstance(m, nn.ConvTranspose2d)
    opts = _stride(m.stride)
    if isinstance(m.padding, str):
        if m.padding == "same":
            opts["pad"] = Word("same")
    elif any(m.padding):
        opts["pad"] = square(m.padding)
    if transposed and any(m.output_padding):
        opts["output_pad"] = square(m.output_padding)
    if m.groups != 1:
        opts["groups"] = m.groups
    if square(m.dilation) != 1:
        opts["dilation"] = square(m.dilation)
    if m.bias is not None:
        opts["bias"] = True
    return [Layer("deconv" if transposed else "conv", [m.out_channels, size(m.kernel_size)], opts, [x])]


def _stride(stride) -> dict:
    s = square(stride)
    return {} if s == 1 else {"stride": s}


def _eps(eps: float, default: float = 1e-5) -> dict:
    return {} if eps == default else {"eps": float(eps)}


def _batch_norm(m, x, ctx):
    if not m.affine or not m.track_running_stats or m.momentum is None:
        raise Unsupported("BatchNorm2d without affine parameters, running statistics or a momentum "
                          "(the language's `bn` has all three)")
    opts = _eps(m.eps)
    if m.momentum != 0.1:
        opts["momentum"] = float(m.momentum)
    return [Layer("bn", [], opts, [x])]


def _check_affine_norm(m):
    if not m.elementwise_affine or m.bias is None:
        raise Unsupported("LayerNorm without a weight and a bias (the language's `layernorm` has both)")


def _layer_norm(m, x, ctx):
    _check_affine_norm(m)
    shape, layout = ctx.shape(x), ctx.layout(x)
    channels = shape[-1] if layout in (CHANNELS_LAST, FLAT) else None
    if tuple(m.normalized_shape) != (channels,):
        raise Unsupported(f"LayerNorm over {tuple(m.normalized_shape)} of a {layout} value of shape {shape} "
                          "(the language's `layernorm` normalises the channels at each position, or a vector)")
    return [Layer("layernorm", [], _eps(m.eps), [x])]


def _group_norm(m, x, ctx):
    if not m.affine:
        raise Unsupported("GroupNorm without affine parameters")
    return [Layer("groupnorm", [m.num_groups], _eps(m.eps), [x])]


def _linear(m, x, ctx):
    opts = {} if m.bias is not None else {"bias": False}
    layout = ctx.layout(x)
    if layout == CHANNELS_LAST:
        return [Layer("position_linear", [m.out_features], opts, [x])]
    if layout != FLAT:
        raise Unsupported(f"Linear on a value of shape {ctx.shape(x)} (the language's `linear` takes a flat "
                          "vector, `position_linear` a channels-last image)")
    return [Layer("linear", [m.out_features], opts, [x])]


def _pool(op, kernel, stride, padding, ceil, x, extra=None):
    opts = {"stride": square(stride if stride not in (None, [], ()) else kernel)}
    if square(padding) != 0:
        opts["pad"] = square(padding)
    if ceil:
        opts["ceil"] = True
    opts.update(extra or {})
    return [Layer(op, [size(kernel)], opts, [x])]


def _max_pool(m, x, ctx):
    if square(m.dilation) != 1 or m.return_indices:
        raise Unsupported("MaxPool2d with dilation or return_indices")
    return _pool("maxpool", m.kernel_size, m.stride, m.padding, m.ceil_mode, x)


def _avg_pool(m, x, ctx):
    if m.divisor_override is not None:
        raise Unsupported("AvgPool2d with divisor_override")
    return _pool("avgpool", m.kernel_size, m.stride, m.padding, m.ceil_mode, x,
                 {} if m.count_include_pad else {"count_pad": False})


def _adaptive(op, output_size, x):
    out = square(output_size)
    if out is None or (isinstance(out, tuple) and None in out):
        raise Unsupported(f"{op} to {output_size} (a side of None keeps the input's, which the language lacks)")
    if op == "adaptive_avgpool" and out == 1:
        return [Layer("global_avgpool", [], {}, [x])]
    return [Layer(op, [size(out)], {}, [x])]


def _dropout(m, x, ctx):
    return Alias(x, ctx.layout(x)) if m.p == 0 else [Layer("dropout", [float(m.p)], {}, [x])]


def _flatten_module(m, x, ctx):
    if (m.start_dim, m.end_dim) != (1, -1):
        raise Unsupported(f"Flatten from dim {m.start_dim} to {m.end_dim} (the language flattens from dim 1)")
    return _flatten(x, ctx)


def _flatten(x, ctx):
    if ctx.layout(x) == FLAT:
        return Alias(x, FLAT)
    if ctx.layout(x) != IMAGE:
        raise Unsupported(f"flattening a {ctx.layout(x)} value")
    return [Layer("flatten", [], {}, [x])]


def _upsample(scale, out_size, mode, align_corners, x):
    if mode not in ("nearest", "bilinear"):
        raise Unsupported(f"upsampling with mode={mode!r} (the language has nearest and bilinear)")
    opts = {}
    if out_size is not None:
        if not all(isinstance(s, int) for s in ([out_size] if isinstance(out_size, int) else out_size)):
            raise Unsupported("upsampling to a size computed at run time (another value's size)")
        opts["size"] = size(out_size)
    else:
        scale = square(scale)
        if isinstance(scale, tuple):
            raise Unsupported("upsampling by a different factor per side")
        opts["scale"] = int(scale) if float(scale).is_integer() else float(scale)
    if mode != "nearest":
        opts["mode"] = Word(mode)
        if align_corners:
            opts["align_corners"] = True
    return [Layer("upsample", [], opts, [x])]


def _zero_pad(m, x, ctx):
    return _pad(tuple(m.padding), x)


def _pad(padding, x):
    left, right, top, bottom = padding if len(padding) == 4 else (*padding, 0, 0)
    if left != right or top != bottom:
        raise Unsupported(f"zero padding {padding} that differs between opposite sides")
    return [Layer("zeropad", [square((top, left))], {}, [x])]


_MODULE_MAPPERS = [
    ((nn.Conv2d, nn.ConvTranspose2d), _conv),
    (nn.BatchNorm2d, _batch_norm),
    (nn.LayerNorm, _layer_norm),
    (nn.GroupNorm, _group_norm),
    (nn.Linear, _linear),
    (nn.MaxPool2d, _max_pool),
    (nn.AvgPool2d, _avg_pool),
    (nn.AdaptiveAvgPool2d, lambda m, x, ctx: _adaptive("adaptive_avgpool", m.output_size, x)),
    (nn.AdaptiveMaxPool2d, lambda m, x, ctx: _adaptive("adaptive_maxpool", m.output_size, x)),
    (nn.Dropout, _dropout),
    (nn.Flatten, _flatten_module),
    (nn.Identity, lambda m, x, ctx: Alias(x, ctx.layout(x))),
    (nn.Upsample, lambda m, x, ctx: _upsample(m.scale_factor, m.size, m.mode, m.align_corners, x)),
    (nn.ZeroPad2d, _zero_pad),
    (nn.ChannelShuffle, lambda m, x, ctx: [Layer("shuffle", [m.groups], {}, [x])]),
]


def _activation(op, x, ctx, slope=None, alpha=None, approximate=None, dim=1):
    opts = {}
    if op == "leaky_relu" and slope is not None and slope != 0.01:
        opts["slope"] = float(slope)
    if op == "elu" and alpha is not None and alpha != 1.0:
        opts["alpha"] = float(alpha)
    if op == "gelu" and approximate not in (None, "none"):
        opts["approximate"] = Word(approximate)
    if op == "softmax" and dim not in (1, -1 if ctx.layout(x) == FLAT else 1):
        raise Unsupported(f"softmax over dim {dim} (the language's is over the channels)")
    return [Layer(op, [], opts, [x])]


def _function_layer(node, ctx):
    fn = node.target
    x = node.args[0] if node.args else None
    if fn in ACTIVATION_FUNCTIONS:
        op = ACTIVATION_FUNCTIONS[fn]
        return _activation(op, x, ctx, slope=arg(node, 1, "negative_slope", 0.01), alpha=arg(node, 1, "alpha", 1.0),
                           approximate=node.kwargs.get("approximate"), dim=arg(node, 1, "dim", 1))
    if fn is F.hardtanh and (arg(node, 1, "min_val", -1.0), arg(node, 2, "max_val", 1.0)) == (0.0, 6.0):
        return [Layer("relu6", [], {}, [x])]
    if fn in (operator.add, operator.iadd, torch.add):
        return _merge("add", node, ctx)
    if fn in (operator.mul, operator.imul, torch.mul):
        return _multiply(node, ctx)
    if fn is torch.cat:
        return _concat(node, ctx)
    if fn is torch.flatten:
        return _flatten_call(node, 1, ctx)
    if fn in (F.max_pool2d, F.avg_pool2d):
        return _pool_call(node)
    if fn is F.adaptive_avg_pool2d:
        return _adaptive("adaptive_avgpool", arg(node, 1, "output_size"), x)
    if fn is F.adaptive_max_pool2d:
        return _adaptive("adaptive_maxpool", arg(node, 1, "output_size"), x)
    if fn is F.dropout:
        return _dropout_call(node, ctx)
    if fn is F.interpolate:
        return _upsample(arg(node, 2, "scale_factor"), arg(node, 1, "size"), arg(node, 3, "mode", "nearest"),
                         arg(node, 4, "align_corners"), x)
    if fn is torch.permute:
        return _permute(x, list(arg(node, 1, "dims")), ctx)
    if fn is torch.mean:
        return _mean(node, ctx)
    if fn is torch.transpose:
        return _transpose(node, ctx)
    if fn is F.pad and arg(node, 2, "mode", "constant") == "constant" and arg(node, 3, "value", 0) in (0, None):
        return _pad(tuple(arg(node, 1, "pad")), x)
    name = getattr(fn, "__name__", str(fn))
    module = getattr(fn, "__module__", None) or ""
    raise Unsupported(f"function {module + '.' if module else ''}{name}")


def _method_layer(node, ctx):
    method, x = node.target, node.args[0]
    if method in ACTIVATION_METHODS:
        return _activation(ACTIVATION_METHODS[method], x, ctx, dim=arg(node, 1, "dim", 1))
    if method in ("contiguous", "clone"):
        return Alias(x, ctx.layout(x))
    if method in ("add", "add_"):
        return _merge("add", node, ctx)
    if method in ("mul", "mul_"):
        return _multiply(node, ctx)
    if method == "flatten":
        return _flatten_call(node, 1, ctx)
    if method in ("view", "reshape"):
        return _reshape(node, ctx)
    if method == "permute":
        dims = list(node.args[1:]) if len(node.args) > 2 else list(node.args[1])
        return _permute(x, dims, ctx)
    if method == "mean":
        return _mean(node, ctx)
    if method == "transpose":
        return _transpose(node, ctx)
    raise Unsupported(f"method Tensor.{method}")


def _transpose(node, ctx):
    x = node.args[0]
    dims = sorted(d % 5 for d in (arg(node, 1, "dim0"), arg(node, 2, "dim1")))
    if ctx.layout(x).startswith("grouped:") and dims == [1, 2]:
        return Alias(x, "swapped:" + ctx.layout(x).partition(":")[2])
    raise Unsupported(f"transpose of dims {dims} of a {ctx.layout(x)} value")


def _tensor_inputs(node, ctx) -> list:
    values = [a for a in node.args if ctx.is_tensor(a)]
    if len(values) != len(node.args) or node.kwargs.get("alpha", 1) != 1:
        raise Unsupported(f"`{getattr(node.target, '__name__', node.target)}` with a number (the language adds "
                          "and multiplies tensors only)")
    return values


def _merge(op, node, ctx):
    values = _tensor_inputs(node, ctx)
    shapes = {ctx.shape(v) for v in values}
    if len(shapes) != 1:
        raise Unsupported(f"{op} of tensors of shapes {sorted(shapes)} (broadcasting)")
    return [Layer(op, [], {}, values)]


def _multiply(node, ctx):
    scale = ctx.layer_scale(node)
    if scale is not None:
        return scale
    values = _tensor_inputs(node, ctx)
    a, b = (ctx.shape(v) for v in values)
    if a == b:
        return [Layer("mul", [], {}, values)]
    if len(a) == 4 and len(b) == 4 and a[:2] == b[:2]:
        x, gate = values if b[2:] == (1, 1) else values[::-1]
        if ctx.shape(gate)[2:] == (1, 1):
            return [Layer("mul", [], {}, [x, gate])]
    raise Unsupported(f"mul of tensors of shapes {a} and {b}")


def _concat(node, ctx):
    values = list(arg(node, 0, "tensors"))
    dim = arg(node, 1, "dim", 0)
    if len(values) == 1:
        return Alias(values[0], ctx.layout(values[0]))
    rank = len(ctx.shape(values[0]))
    if dim not in (1, 1 - rank) or ctx.layout(values[0]) != IMAGE:
        raise Unsupported(f"torch.cat along dim {dim} (the language concatenates images' channels)")
    return [Layer("concat", [], {}, values)]


def _flatten_call(node, start_default, ctx):
    start, end = arg(node, 1, "start_dim", 0), arg(node, 2, "end_dim", -1)
    if (start, end) != (1, -1):
        raise Unsupported(f"flatten from dim {start} to {end} (the language flattens from dim 1)")
    return _flatten(node.args[0], ctx)


def _reshape(node, ctx):
    x = node.args[0]
    out, layout, shape = ctx.shape(node), ctx.layout(x), ctx.shape(x)
    if out is not None and len(out) == 2 and layout == IMAGE:
        return [Layer("flatten", [], {}, [x])]
    # ShuffleNet's channel shuffle: view as (N, g, C/g, H, W), swap dims 1 and 2, view back as (N, C, H, W)
    if layout == IMAGE and len(out) == 5 and out[1] * out[2] == shape[1] and out[3:] == shape[2:]:
        return Alias(x, f"grouped:{out[1]}")
    if layout.startswith("swapped:") and len(out) == 4 and out[1] == shape[1] * shape[2] and out[2:] == shape[3:]:
        return [Layer("shuffle", [int(layout.partition(":")[2])], {}, [x])]
    raise Unsupported(f"Tensor.{node.target} to shape {out}")


def _mean(node, ctx):
    x = node.args[0]
    dims = arg(node, 1, "dim")
    keep = arg(node, 2, "keepdim", False)
    if ctx.layout(x) != IMAGE or sorted(d % 4 for d in (dims if isinstance(dims, (list, tuple)) else [dims])) != [2, 3]:
        raise Unsupported(f"mean over dims {dims} (the language averages an image over its height and width)")
    pooled = Layer("global_avgpool", [], {}, [x])
    return [pooled] if keep else [pooled, Layer("flatten", [], {}, [])]


def _pool_call(node):
    kernel = arg(node, 1, "kernel_size")
    stride, padding = arg(node, 2, "stride"), arg(node, 3, "padding", 0)
    if node.target is F.max_pool2d:
        if square(arg(node, 4, "dilation", 1)) != 1 or arg(node, 6, "return_indices", False):
            raise Unsupported("max_pool2d with dilation or return_indices")
        return _pool("maxpool", kernel, stride, padding, arg(node, 5, "ceil_mode", False), node.args[0])
    if arg(node, 6, "divisor_override") is not None:
        raise Unsupported("avg_pool2d with divisor_override")
    count = arg(node, 5, "count_include_pad", True)
    return _pool("avgpool", kernel, stride, padding, arg(node, 4, "ceil_mode", False), node.args[0],
                 {} if count else {"count_pad": False})


def _dropout_call(node, ctx):
    p = arg(node, 1, "p", 0.5)
    in_eval, in_training = ctx.training_flags(node)
    if not isinstance(p, float | int):
        raise Unsupported("F.dropout with a probability computed at run time")
    if (in_eval, in_training) == (False, False) or p == 0:
        return Alias(node.args[0], ctx.layout(node.args[0]))
    if (in_eval, in_training) != (False, True):
        raise Unsupported("F.dropout with training=True in eval mode: it does not follow model.eval() "
                          "(use nn.Dropout, or training=self.training)")
    return [Layer("dropout", [float(p)], {}, [node.args[0]])]


def _permute(x, dims, ctx):
    layout = ctx.layout(x)
    if layout == IMAGE and dims == [0, 2, 3, 1]:
        return Alias(x, CHANNELS_LAST)
    if layout == CHANNELS_LAST and dims == [0, 3, 1, 2]:
        return Alias(x, IMAGE)
    raise Unsupported(f"permute {dims} of a {layout} value (the language moves an image to channels-last and "
                      "back around per-position layers only)")
