"""Type inference: the output tensor type of each op, and the problems that prevent one.

One rule per op. A rule sees the node and the types of its inputs (None where an
earlier error left a type unknown) and returns the output type plus problems.
Problems carry no span; the caller attaches the node's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from archdsl.ir import nodes as N
from archdsl.ir.nodes import TensorType


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    label: str = ""
    help: str = ""
    #: index of the input whose producer is worth pointing at, if any
    blame_input: int | None = None


Result = tuple[TensorType | None, list[Problem]]


def infer(node: N.NodeBase, inputs: list[TensorType | None]) -> Result:
    """The output type of `node` given its inputs' types."""
    if any(t is None for t in inputs):
        return None, []
    return _RULES[node.op](node, inputs)


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


def _need_spatial(node, t: TensorType) -> list[Problem]:
    if t.is_flat:
        return [Problem("E0305", f"{node.op} needs an image (CxHxW), but its input is a flat vector of {t}",
                        f"input is {t}", "move this layer before `flatten`")]
    return []


def _window(node, t: TensorType, kernel, stride, padding, dilation=(1, 1), ceil=False) -> Result:
    problems = _need_spatial(node, t)
    if problems:
        return None, problems
    top, bottom, left, right = sides(padding)
    h = conv_out(t.height, kernel[0], stride[0], top, dilation[0], ceil, bottom)
    w = conv_out(t.width, kernel[1], stride[1], left, dilation[1], ceil, right)
    if h <= 0 or w <= 0:
        dilated = f", dilation {dilation[0]}" if tuple(dilation) != (1, 1) else ""
        window = f"a {kernel[0]}x{kernel[1]} window (stride {stride[0]}, padding {padding[0]}{dilated})"
        return None, [Problem(
            "E0306", f"{node.op} leaves no output: its {t.height}x{t.width} input is too small for {window}",
            f"input is {t}", "use a larger input (--input), a smaller kernel or stride, or more padding")]
    return TensorType(channels=t.channels, height=h, width=w), []


def _declared(node, what: str, declared: int | None, actual: int) -> list[Problem]:
    if declared is not None and declared != actual:
        return [Problem("E0303", f"{node.op} declares {declared} input {what}, but its input has {actual}",
                        f"input has {actual} {what}", f"write {actual}, or fix the layer before it",
                        blame_input=0)]
    return []


def _conv(node: N.Conv, inputs) -> Result:
    (t,) = inputs
    problems = _declared(node, "channels", node.in_channels, t.channels)
    g = node.groups
    if g < 1 or t.channels % g or node.out_channels % g:
        problems.append(_groups_problem(node, t.channels))
    out, more = _window(node, t, node.kernel, node.stride, node.padding, node.dilation)
    if out is not None:
        out = out.model_copy(update={"channels": node.out_channels})
    return out, problems + more


def _groups_problem(node: N.Conv, in_channels: int) -> Problem:
    g = node.groups
    bad = in_channels if g < 1 or in_channels % g else node.out_channels
    side = "input" if bad == in_channels and (g < 1 or in_channels % g) else "output"
    return Problem("E0304", f"groups={g} does not divide the {side} channels ({bad})",
                   f"{bad} channels in {g} groups", not_divisible_help(bad, max(g, 1)))


def nearest_multiples(value: int, step: int) -> str:
    """`96, 128`: the multiples of `step` on either side of `value` (those above 0)."""
    below = value // step * step
    return ", ".join(str(v) for v in (below, below + step) if v > 0)


def not_divisible_help(value: int, step: int) -> str:
    """The help line for `value` not divisible by `step`, naming the nearest multiples."""
    return f"{value} is not divisible by {step}; nearest: " + nearest_multiples(value, step)


def _bn(node: N.BatchNorm, inputs) -> Result:
    (t,) = inputs
    problems = _need_spatial(node, t) + _declared(node, "channels", node.channels, t.channels)
    return t, problems


def _linear(node: N.Linear, inputs) -> Result:
    (t,) = inputs
    if not t.is_flat:
        return None, [Problem("E0305", f"linear needs a flat vector, but its input is an image {t}",
                              f"input is {t}", "add `flatten` (after a global pool) before this layer")]
    return TensorType(channels=node.out_features), _declared(node, "features", node.in_features, t.channels)


def _same(node, inputs) -> Result:
    return inputs[0], []


def _maxpool(node: N.MaxPool, inputs) -> Result:
    return _pool(node, inputs[0])


def _pool(node, t: TensorType) -> Result:
    kh, kw = node.kernel
    over = [(p, k) for p, k in zip(sides(node.padding), (kh, kh, kw, kw)) if p * 2 > k]
    if over:
        (pad, kernel), = over[:1]
        return None, [Problem("E0310", f"padding {pad} is more than half the kernel {kernel}",
                              "too much padding", "pooling padding must be at most half the kernel size")]
    return _window(node, t, node.kernel, node.stride, node.padding, ceil=node.ceil_mode)


def _global_pool(node, inputs) -> Result:
    (t,) = inputs
    problems = _need_spatial(node, t)
    return (None if problems else TensorType(channels=t.channels, height=1, width=1)), problems


def _flatten(node, inputs) -> Result:
    return TensorType(channels=inputs[0].numel), []


def _zeropad(node: N.ZeroPad, inputs) -> Result:
    (t,) = inputs
    problems = _need_spatial(node, t)
    if problems:
        return None, problems
    top, bottom, left, right = node.padding
    return TensorType(channels=t.channels, height=t.height + top + bottom, width=t.width + left + right), []


def _add(node, inputs) -> Result:
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
                "E0302", f"add: sizes differ ({_hw(first)} vs {_hw(t)})", f"adds {first} and {t}",
                "both sides must reach the same size: the same total stride (a shortcut needs its block's "
                "stride), and convs and pools that keep the size (a 3x3 needs pad=1; an even kernel or "
                "ceil=true changes it by one)",
                blame_input=i)]
    return first, []


def _mul(node, inputs) -> Result:
    x, gate = inputs
    ok_spatial = (gate.height, gate.width) in ((x.height, x.width), (1, 1))
    if gate.channels != x.channels or not ok_spatial:
        return x, [Problem("E0308", f"mul: a {gate} gate does not fit a {x} input", f"multiplies {x} by {gate}",
                           "the gate must have the input's channels, and its size or 1x1", blame_input=1)]
    return x, []


def _concat(node, inputs) -> Result:
    first = inputs[0]
    for i, t in enumerate(inputs[1:], start=1):
        if (t.height, t.width) != (first.height, first.width):
            return None, [Problem(
                "E0307", f"concat: sizes differ ({_hw(first)} vs {_hw(t)})", f"joins {first} and {t}",
                "concatenated values must share height and width", blame_input=i)]
    return TensorType(channels=sum(t.channels for t in inputs), height=first.height, width=first.width), []


def _slice(node: N.ChannelSlice, inputs) -> Result:
    (t,) = inputs
    if node.start < 0 or node.size < 1 or node.start + node.size > t.channels:
        return None, [Problem("E0309", f"channels {node.start}..{node.start + node.size} are outside the input's "
                              f"{t.channels}", "bad split", "splits must cover the input's channels exactly")]
    return t.model_copy(update={"channels": node.size}), []


def _hw(t: TensorType) -> str:
    return "flat" if t.is_flat else f"{t.height}x{t.width}"


_RULES = {
    "input": lambda node, inputs: (node.type, []),
    "output": _same, "relu": _same, "sigmoid": _same, "softmax": _same, "identity": _same, "dropout": _same,
    "conv": _conv, "bn": _bn, "linear": _linear, "maxpool": _maxpool,
    "avgpool": lambda node, inputs: _pool(node, inputs[0]),
    "global_avgpool": _global_pool, "flatten": _flatten, "zeropad": _zeropad,
    "add": _add, "mul": _mul, "concat": _concat, "slice": _slice,
}
