"""Hints for words a user brings from other tools: `BatchNorm2d` for `bn`, `ReLU` for `relu`.

Used only to word a diagnostic's help line; the language itself accepts its own words only.
A hint never names a layer type that computes something else without saying so: the names of
functions archdsl does not have (`prelu`, `selu`) get what differs, not a "did you mean".
"""

from __future__ import annotations

from archdsl.diagnostics import did_you_mean

# Lower-cased names from PyTorch, Keras and the papers, and the archdsl layer type they mean.
FOREIGN_LAYER_NAMES = {
    "conv2d": "conv", "convolution": "conv", "convolution2d": "conv",
    "convtranspose2d": "deconv", "conv2dtranspose": "deconv", "conv_transpose": "deconv",
    "conv_transpose2d": "deconv", "transposedconv": "deconv", "deconvolution": "deconv", "deconv2d": "deconv",
    "batchnorm": "bn", "batchnorm2d": "bn", "batchnormalization": "bn", "batch_norm": "bn", "norm": "bn",
    "frozenbatchnorm2d": "frozen_bn", "frozenbatchnorm": "frozen_bn", "frozen_batchnorm": "frozen_bn",
    "layer_norm": "layernorm", "layernorm2d": "layernorm", "layernormalization": "layernorm", "ln": "layernorm",
    "group_norm": "groupnorm", "groupnormalization": "groupnorm", "gn": "groupnorm",
    "maxpool2d": "maxpool", "maxpooling2d": "maxpool", "max_pool": "maxpool",
    "avgpool2d": "avgpool", "averagepooling2d": "avgpool", "avg_pool": "avgpool",
    "adaptiveavgpool2d": "adaptive_avgpool", "adaptive_avg_pool2d": "adaptive_avgpool",
    "adaptiveavgpool": "adaptive_avgpool", "adaptivemaxpool2d": "adaptive_maxpool",
    "adaptive_max_pool2d": "adaptive_maxpool", "adaptivemaxpool": "adaptive_maxpool",
    "globalaveragepooling2d": "global_avgpool", "gap": "global_avgpool",
    "globalavgpool": "global_avgpool", "global_avg_pool": "global_avgpool",
    "upsampling2d": "upsample", "upsamplingnearest2d": "upsample", "upsamplingbilinear2d": "upsample",
    "interpolate": "upsample", "resize": "upsample",
    "fc": "linear",
    "zeropadding2d": "zeropad", "pad": "zeropad",
    "concatenate": "concat", "cat": "concat", "multiply": "mul",
    "relu6": "relu6", "hardswish": "hardswish", "hard_swish": "hardswish", "hswish": "hardswish",
    "hardsigmoid": "hardsigmoid", "hard_sigmoid": "hardsigmoid", "hsigmoid": "hardsigmoid",
    "swish": "silu", "leakyrelu": "leaky_relu", "lrelu": "leaky_relu",
    "channelshuffle": "shuffle", "channel_shuffle": "shuffle",
    "stochasticdepth": "stochastic_depth", "droppath": "stochastic_depth", "drop_path": "stochastic_depth",
    "layerscale": "layer_scale",
}

#: a word whose archdsl name is not the word itself, and why it is still the same thing
SAME_FUNCTION = {
    "swish": "swish (with beta=1) is the same function as SiLU, x * sigmoid(x)",
    "adaptiveavgpool2d": "`global_avgpool` for an output of 1",
    "droppath": "timm's DropPath is torchvision's stochastic depth in row mode",
    "drop_path": "timm's DropPath is torchvision's stochastic depth in row mode",
}

#: functions archdsl does not have, the nearest it has, and what differs (never a silent "did you mean")
DIFFERENT = {
    "prelu": ("leaky_relu", "PReLU learns its negative slope; leaky_relu's slope is a fixed option"),
    "selu": ("elu", "SELU is a scaled ELU (scale 1.0507, alpha 1.6733); elu has no scale"),
    "celu": ("elu", "CELU is alpha * (exp(x / alpha) - 1) below 0; elu is alpha * (exp(x) - 1)"),
    "rrelu": ("leaky_relu", "RReLU draws its slope at random in training; leaky_relu's is fixed"),
    "glu": ("sigmoid", "GLU halves the channels and gates one half by the other"),
    "softplus": ("relu", "softplus is the smooth log(1 + exp(x)), not relu's max(x, 0)"),
    "hardtanh": ("relu6", "hardtanh clamps to [-1, 1] by default; relu6 clamps to [0, 6]"),
    "logsigmoid": ("sigmoid", "logsigmoid is log(sigmoid(x))"),
    "softsign": ("tanh", "softsign is x / (1 + |x|), not tanh"),
    "tanhshrink": ("tanh", "tanhshrink is x - tanh(x)"),
    "logsoftmax": ("softmax", "logsoftmax is log(softmax(x))"),
    "log_softmax": ("softmax", "logsoftmax is log(softmax(x))"),
    "quickgelu": ("gelu", "QuickGELU is x * sigmoid(1.702 x), an approximation gelu does not use"),
    "quick_gelu": ("gelu", "QuickGELU is x * sigmoid(1.702 x), an approximation gelu does not use"),
    "instancenorm": ("groupnorm", "instance norm is groupnorm with one group per channel, without running stats"),
    "instancenorm2d": ("groupnorm", "instance norm is groupnorm with one group per channel, without running stats"),
}

#: capitalised layer names of other tools whose lower-case form is another archdsl word
FOREIGN_CAPITALISED = {"Dense": "linear"}  # Keras's Dense; `dense` is DenseNet's block here


def layer_type_hint(word: str, layer_types) -> str:
    """The help line for an unknown layer type: its archdsl name if it is a known foreign one,
    what differs where archdsl has only something near it, else a close spelling (or '')."""
    meant = as_layer_type(word, layer_types)
    if meant == word.lower():
        return f"layer types are lower case: write `{meant}`"
    if meant is not None:
        same = SAME_FUNCTION.get(word.lower())
        return f"archdsl writes `{word}` as `{meant}`" + (f" ({same})" if same else "")
    different = DIFFERENT.get(word.lower())
    if different is not None:
        near, why = different
        return f"archdsl has no `{word}`; the nearest is `{near}`, which computes something else: {why}"
    return did_you_mean(word, layer_types)


def as_layer_type(word: str, layer_types) -> str | None:
    """The layer type a word from elsewhere most likely means (`ReLU`, `Conv2d`), if any."""
    if word in FOREIGN_CAPITALISED:
        return FOREIGN_CAPITALISED[word]
    lowered = word.lower().removeprefix("nn.")
    if lowered in layer_types:
        return lowered
    meant = FOREIGN_LAYER_NAMES.get(lowered)
    return meant if meant is None or meant in layer_types else None
