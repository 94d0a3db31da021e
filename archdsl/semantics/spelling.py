"""Hints for words a user brings from other tools: `BatchNorm2d` for `bn`, `ReLU` for `relu`.

Used only to word a diagnostic's help line; the language itself accepts its own words only.
"""

from __future__ import annotations

from archdsl.diagnostics import did_you_mean

# Lower-cased names from PyTorch, Keras and the papers, and the archdsl layer type they mean.
FOREIGN_LAYER_NAMES = {
    "conv2d": "conv", "convolution": "conv", "convolution2d": "conv",
    "batchnorm": "bn", "batchnorm2d": "bn", "batchnormalization": "bn", "batch_norm": "bn", "norm": "bn",
    "maxpool2d": "maxpool", "maxpooling2d": "maxpool", "max_pool": "maxpool",
    "avgpool2d": "avgpool", "averagepooling2d": "avgpool", "avg_pool": "avgpool",
    "adaptiveavgpool2d": "global_avgpool", "globalaveragepooling2d": "global_avgpool", "gap": "global_avgpool",
    "globalavgpool": "global_avgpool", "global_avg_pool": "global_avgpool",
    "fc": "linear",
    "zeropadding2d": "zeropad", "pad": "zeropad",
    "concatenate": "concat", "cat": "concat", "multiply": "mul",
}


def layer_type_hint(word: str, layer_types) -> str:
    """The help line for an unknown layer type: its archdsl name if it is a known foreign one."""
    meant = as_layer_type(word, layer_types)
    if meant == word.lower():
        return f"layer types are lower case: write `{meant}`"
    if meant is not None:
        return f"archdsl writes `{word}` as `{meant}`"
    return did_you_mean(word, layer_types)


#: capitalised layer names of other tools whose lower-case form is another archdsl word
FOREIGN_CAPITALISED = {"Dense": "linear"}  # Keras's Dense; `dense` is DenseNet's block here


def as_layer_type(word: str, layer_types) -> str | None:
    """The layer type a word from elsewhere most likely means (`ReLU`, `Conv2d`), if any."""
    if word in FOREIGN_CAPITALISED:
        return FOREIGN_CAPITALISED[word]
    lowered = word.lower()
    if lowered in layer_types:
        return lowered
    return FOREIGN_LAYER_NAMES.get(lowered)
