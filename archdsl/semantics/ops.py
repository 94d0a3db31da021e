"""Layer statements: `[name] op args... [options] [from a, b]` -> one IR node (rarely two).

Each op declares its positional arguments and options; the call is validated
against that before the op's small constructor runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from archdsl.diagnostics import Diagnostic, Label, did_you_mean, error
from archdsl.ir import nodes as N
from archdsl.semantics import tensor_ops as T_
from archdsl.semantics.emit import Emitter
from archdsl.semantics.spelling import as_layer_type
from archdsl.semantics.values import COMMENT_HINT, Evaluator, Invalid, after_double_slash, check_stride_place, invalid
from archdsl.syntax import tree as T

_REQUIRED = object()
#: the options a problem found at a layer can come from (E0304: groups=2 that a default set)
DEFAULT_BLAME = {"E0304": ("groups",), "E0303": ("in",), "E0306": ("stride", "pad", "dilation"),
                 "E0307": ("stride",), "E0310": ("pad",)}


class Call:
    """One layer statement, with helpers to read its arguments as the op needs them."""

    def __init__(self, stmt: T.Statement, op: str, args: tuple, ev: Evaluator, defaults: dict, path: str):
        self.stmt, self.op, self.ev, self.defaults, self.path = stmt, op, ev, defaults, path
        self.positional = [a for a in args if not isinstance(a, T.Stride)]
        self.stride_arg = next((a for a in args if isinstance(a, T.Stride)), None)
        self.options = {o.name: o for o in stmt.options}
        #: the options this call took from `default` statements
        self.from_defaults: dict[str, T.Option] = {}

    @property
    def span(self):
        return self.stmt.span

    def arg(self, index: int, what: str, convert: Callable, default=_REQUIRED, example: str = ""):
        if index < len(self.positional):
            return convert(self.positional[index], what)
        if default is _REQUIRED:
            raise invalid("E0207", f"{self.op} needs {what}", self.stmt.span, f"{_bare(what)} missing",
                          f"write it like `{example}`" if example else "")
        return default

    def opt(self, name: str, convert: Callable, default):
        """An option's value: given on the statement, else by a `default` statement, else `default`."""
        option = self.options.get(name)
        if option is None and name in self.defaults:
            option = self.from_defaults[name] = self.defaults[name]
        return default if option is None else convert(option.value, name)

    def blame_defaults(self, found: list[Diagnostic]) -> list[Diagnostic]:
        """`found` (problems of this statement), each with a note at the `default` line that set
        an option it is about: the line itself says nothing of `groups=2` or `in=3`."""
        out = []
        for d in found:
            notes = tuple(Label(option.span, f"`{name}` comes from this default")
                          for name, option in self.from_defaults.items() if name in DEFAULT_BLAME.get(d.code, ()))
            out.append(replace(d, notes=d.notes + notes) if notes and d.span == self.span else d)
        return out

    def stride(self, default) -> tuple[int, int]:
        if self.stride_arg is not None and "stride" in self.options:
            option = self.options["stride"]
            first, again = sorted((self.stride_arg.span, option.span), key=lambda s: (s.line, s.col))
            written = option.span.source.line(option.span.line)[option.span.col - 1:option.span.end_col - 1] \
                if option.span.source else "stride=..."
            raise Invalid(error("E0202", "the stride is given twice", again, "given again",
                                f"keep one: `/{self.stride_arg.value}` or `{written}`",
                                (Label(first, "first given here"),)))
        if self.stride_arg is not None:
            value = self.stride_arg.value
            if value < 1:
                raise invalid("E0209", "stride must be at least 1", self.stride_arg.span, "got 0",
                              "write /2 to halve the size, or no stride to keep it")
            return (value, value)
        return self.opt("stride", self.ev.pair, default)


def _bare(what: str) -> str:
    """`a kernel size` -> `kernel size`, for a label under the statement."""
    return what.split(" ", 1)[1] if what.split(" ", 1)[0] in ("a", "an", "the") and " " in what else what


@dataclass(frozen=True)
class OpDef:
    build: Callable[[Call, Emitter, list[int]], int]
    positional: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    arity: tuple[int, int] = (1, 1)
    #: options other than `options` name the input's axes (`roll h=3`), or sizes of a pattern's axes
    axis_options: bool = False
    #: options that name a value, as `from` does (`upsample to=input`): the builder resolves each one
    #: written and hands it to `build` as one more input, after those of `from`
    value_options: tuple[str, ...] = ()


def _conv(call: Call, em: Emitter, xs: list[int]) -> int:
    ev = call.ev
    out = call.arg(0, "output channels", ev.int_, example="conv 64 3x3")
    kernel = call.arg(1, "a kernel size", ev.pair, example=f"conv {out} 3x3")
    stride = call.stride((1, 1))
    dilation = call.opt("dilation", ev.pair, (1, 1))
    attrs = dict(out_channels=out, kernel=kernel, stride=stride, dilation=dilation,
                 groups=call.opt("groups", ev.int_, 1), bias=call.opt("bias", ev.bool_, False),
                 in_channels=call.opt("in", ev.int_, None))
    padding = _padding(call, em, xs[0], _pad_option(call), kernel, stride, dilation)
    x, padding = em.pad_unevenly(xs[0], call.path, call.span, padding)
    return em.emit(N.Conv, [x], call.path, call.span, padding=padding, **attrs)


#: the words `pad=` takes: TensorFlow's `same`, no padding (`valid`), kernel // 2 x dilation (`auto`)
PAD_WORDS = ("same", "valid", "auto")


def _pad_option(call: Call):
    """The `pad` option as written: a (height, width) size, `same`, `valid` or `auto`."""
    def convert(value, what):
        word = call.ev.word(value)
        if isinstance(word, str) and word not in PAD_WORDS:
            raise invalid("E0209", f"{what} must be a size, `same`, `valid` or `auto`", value.span, f"got {word}",
                          did_you_mean(word, PAD_WORDS) or "write pad=1, pad=1x1, pad=same, pad=valid or pad=auto")
        return word if word in PAD_WORDS else call.ev.pair(value, what, minimum=0, evaluated=word)

    return call.opt("pad", convert, (0, 0))


def _padding(call: Call, em: Emitter, x: int, pad, kernel, stride, dilation=(1, 1)) -> tuple:
    """The padding `pad` asks for, as (height, width), or (top, bottom, left, right) where `same`
    splits unevenly."""
    if pad == "valid":
        return (0, 0)
    if pad == "auto":  # PyTorch's blocks: kernel // 2 x dilation, which keeps the size of odd kernels
        return tuple(d * (k // 2) for k, d in zip(kernel, dilation))
    return em.same_padding(x, call.span, kernel, stride, dilation) if pad == "same" else pad


def _bn(call: Call, em: Emitter, xs: list[int]) -> int:
    ev = call.ev
    return em.emit(N.BatchNorm, xs, call.path, call.span, channels=call.arg(0, "channels", ev.int_, None),
                   eps=call.opt("eps", ev.float_, 1e-5), momentum=call.opt("momentum", ev.float_, 0.1))


def _frozen_bn(call: Call, em: Emitter, xs: list[int]) -> int:
    ev = call.ev
    return em.emit(N.FrozenBatchNorm, xs, call.path, call.span, channels=call.arg(0, "channels", ev.int_, None),
                   eps=call.opt("eps", ev.float_, 1e-5))


def _pool(cls):
    def build(call: Call, em: Emitter, xs: list[int]) -> int:
        ev = call.ev
        kernel = call.arg(0, "a kernel size", ev.pair, example=f"{call.op} 3x3 /2")
        stride = call.stride(kernel)
        pad = _pad_option(call)
        same = pad == "same"
        ceil = call.opt("ceil", ev.bool_, False)
        if same and ceil:
            where = (call.options.get("ceil") or call.defaults["ceil"]).span
            raise invalid("E0202", "`ceil` and `pad=same` both set the output size", where,
                          "conflicts with pad=same", "pad=same gives ceil(size / stride); drop `ceil`")
        attrs = dict(kernel=kernel, stride=stride, ceil_mode=ceil, padding=_padding(call, em, xs[0], pad, kernel, stride))
        if cls is N.AvgPool:  # TensorFlow's `same` leaves the padding out of the average
            attrs["count_include_pad"] = call.opt("count_pad", ev.bool_, not same)
        return em.emit(cls, xs, call.path, call.span, **attrs)
    return build


def _linear(call: Call, em: Emitter, xs: list[int]) -> int:
    ev = call.ev
    out = call.arg(0, "output features", ev.int_, example="linear num_classes")
    unused = call.opt("bias_unused", lambda v, what: ev.pair(v, what, minimum=0), None)
    if unused is not None and not 0 <= unused[0] < unused[1] <= out:
        raise invalid("E0209", f"bias_unused={unused[0]}..{unused[1]} is not a range of the {out} outputs",
                      call.options["bias_unused"].value.span, "outside the bias",
                      f"write (start, stop) with 0 <= start < stop <= {out}")
    return em.emit(N.Linear, xs, call.path, call.span, out_features=out, bias=call.opt("bias", ev.bool_, True),
                   in_features=call.opt("in", ev.int_, None), bias_unused=unused)


def _dropout(call: Call, em: Emitter, xs: list[int]) -> int:
    p = call.arg(0, "a drop probability", call.ev.float_, call.opt("p", call.ev.float_, 0.5))
    if p >= 1:
        raise invalid("E0209", "dropout probability must be below 1", call.span, f"got {p}",
                      "a probability of dropping each value, like 0.5")
    return em.emit(N.Dropout, xs, call.path, call.span, p=p)


def _zeropad(call: Call, em: Emitter, xs: list[int]) -> int:
    """`zeropad 3` (an image's height and width), or zeros along named axes: `zeropad h=(0, 1) w=(0, 1)`."""
    if call.options and not call.positional:
        return T_._pad(call, em, xs)
    h, w = call.arg(0, "a padding", lambda v, what: call.ev.pair(v, what, minimum=0), example="zeropad 3")
    return em.emit(N.ZeroPad, xs, call.path, call.span, padding=(h, h, w, w))


def _plain(cls):
    return lambda call, em, xs: em.emit(cls, xs, call.path, call.span)


def _activation(name: str):
    """The builder of an activation from its table line: each option read as its default's kind."""
    definition = N.ACTIVATIONS[name]

    def build(call: Call, em: Emitter, xs: list[int]) -> int:
        attrs = {key: call.opt(key, _option_reader(call.ev, option), option.default)
                 for key, option in definition.options.items()}
        return em.emit(N.ACTIVATION_NODES[name], xs, call.path, call.span, **attrs)
    return build


def _option_reader(ev: Evaluator, option: N.Option) -> Callable:
    if option.choices:
        return lambda value, what: ev.choice(value, what, option.choices)
    return ev.float_


def _deconv(call: Call, em: Emitter, xs: list[int]) -> int:
    ev = call.ev
    out = call.arg(0, "output channels", ev.int_, example="deconv 64 2x2 /2")
    kernel = call.arg(1, "a kernel size", ev.pair, example=f"deconv {out} 2x2 /2")
    return em.emit(N.Deconv, xs, call.path, call.span, out_channels=out, kernel=kernel,
                   stride=call.stride((1, 1)), padding=call.opt("pad", _size(ev, 0), (0, 0)),
                   output_padding=call.opt("output_pad", _size(ev, 0), (0, 0)),
                   dilation=call.opt("dilation", ev.pair, (1, 1)), groups=call.opt("groups", ev.int_, 1),
                   bias=call.opt("bias", ev.bool_, False))


def _size(ev: Evaluator, minimum: int):
    return lambda value, what: ev.pair(value, what, minimum=minimum)


def _layernorm(call: Call, em: Emitter, xs: list[int]) -> int:
    return em.emit(N.LayerNorm, xs, call.path, call.span, eps=call.opt("eps", call.ev.float_, 1e-5))


def _groupnorm(call: Call, em: Emitter, xs: list[int]) -> int:
    groups = call.arg(0, "a number of groups", call.ev.int_, example="groupnorm 32")
    return em.emit(N.GroupNorm, xs, call.path, call.span, groups=groups, eps=call.opt("eps", call.ev.float_, 1e-5))


def _position_linear(call: Call, em: Emitter, xs: list[int]) -> int:
    out = call.arg(0, "output features", call.ev.int_, example="position_linear 384")
    return em.emit(N.PositionLinear, xs, call.path, call.span, out_features=out,
                   bias=call.opt("bias", call.ev.bool_, True))


def _layer_scale(call: Call, em: Emitter, xs: list[int]) -> int:
    return em.emit(N.LayerScale, xs, call.path, call.span, init=call.opt("init", call.ev.float_, 1e-6))


def _stochastic_depth(call: Call, em: Emitter, xs: list[int]) -> int:
    p = call.arg(0, "a drop probability", call.ev.float_, example="stochastic_depth 0.1")
    if p > 1:
        raise invalid("E0209", "stochastic depth probability must be at most 1", call.positional[0].span,
                      f"got {p}", "the probability of dropping a block's branch, from 0 to 1, like 0.1")
    mode = call.opt("mode", lambda v, what: call.ev.choice(v, what, ("row", "batch")), "row")
    return em.emit(N.StochasticDepth, xs, call.path, call.span, p=p, mode=mode)


def _adaptive(cls):
    def build(call: Call, em: Emitter, xs: list[int]) -> int:
        size = call.arg(0, "an output size", call.ev.pair, example=f"{call.op} 7x7")
        return em.emit(cls, xs, call.path, call.span, size=size)
    return build


def _upsample(call: Call, em: Emitter, xs: list[int]) -> int:
    ev = call.ev
    scale = call.opt("scale", ev.float_, None)
    size = call.opt("size", ev.pair, None)
    mode = call.opt("mode", lambda v, what: ev.choice(v, what, ("nearest", "bilinear")), "nearest")
    align = call.opt("align_corners", ev.bool_, None)
    to = "to" if len(xs) == 2 else None
    set_ = [name for name, value in (("scale", scale), ("size", size), ("to", to)) if value is not None]
    if len(set_) > 1:
        first, again = set_[:2]
        raise invalid("E0202", f"`{first}` and `{again}` both set the output size", _option_span(call, again),
                      f"conflicts with {first}", "keep one: scale=2, size=HxW, or to=NAME (the size of that value)")
    if not set_:
        raise invalid("E0207", "upsample needs a scale or a size, or a value whose size it takes", call.span,
                      "scale, size or to missing",
                      "write it like `upsample scale=2`, `upsample size=56x56` or `upsample to=input`")
    if scale is not None and scale <= 0:
        raise invalid("E0209", "upsample scale must be above 0", _option_span(call, "scale"), f"got {scale}",
                      "a factor like 2 (twice the height and width)")
    if align is not None and mode != "bilinear":
        raise invalid("E0202", "`align_corners` applies only to mode=bilinear", _option_span(call, "align_corners"),
                      f"mode is {mode}", "drop align_corners, or write mode=bilinear")
    return em.emit(N.Upsample, xs, call.path, call.span, scale=scale, size=size, mode=mode, align_corners=align)


def _option_span(call: Call, name: str):
    option = call.options.get(name) or call.from_defaults.get(name)
    return option.span if option is not None else call.span


def _shuffle(call: Call, em: Emitter, xs: list[int]) -> int:
    groups = call.arg(0, "a number of groups", call.ev.int_, example="shuffle 2")
    return em.emit(N.Shuffle, xs, call.path, call.span, groups=groups)


def _concat(call: Call, em: Emitter, xs: list[int]) -> int:
    option = call.options.get("axis")
    if option is None:
        return em.emit(N.Concat, xs, call.path, call.span)
    axis = T_.axis_of(T_.input_type(em, xs), call.ev.word(option.value), option.value.span)
    return em.emit(N.Concat, xs, call.path, call.span, axis=axis)

OPS: dict[str, OpDef] = {
    "conv": OpDef(_conv, ("channels", "kernel"), ("stride", "pad", "groups", "bias", "dilation", "in")),
    "bn": OpDef(_bn, ("channels",), ("eps", "momentum")),
    **{name: OpDef(_activation(name), (), tuple(a.options)) for name, a in N.ACTIVATIONS.items()},
    "deconv": OpDef(_deconv, ("channels", "kernel"), ("stride", "pad", "output_pad", "groups", "bias", "dilation")),
    "frozen_bn": OpDef(_frozen_bn, ("channels",), ("eps",)),
    "layernorm": OpDef(_layernorm, (), ("eps",)),
    "groupnorm": OpDef(_groupnorm, ("groups",), ("eps",)),
    "position_linear": OpDef(_position_linear, ("features",), ("bias",)),
    "layer_scale": OpDef(_layer_scale, (), ("init",)),
    "stochastic_depth": OpDef(_stochastic_depth, ("p",), ("mode",)),
    "adaptive_avgpool": OpDef(_adaptive(N.AdaptiveAvgPool), ("size",)),
    "adaptive_maxpool": OpDef(_adaptive(N.AdaptiveMaxPool), ("size",)),
    "upsample": OpDef(_upsample, (), ("scale", "size", "to", "mode", "align_corners"), value_options=("to",)),
    "shuffle": OpDef(_shuffle, ("groups",)),
    "identity": OpDef(_plain(N.Identity)),
    "flatten": OpDef(_plain(N.Flatten)),
    "global_avgpool": OpDef(_plain(N.GlobalAvgPool)),
    "maxpool": OpDef(_pool(N.MaxPool), ("kernel",), ("stride", "pad", "ceil")),
    "avgpool": OpDef(_pool(N.AvgPool), ("kernel",), ("stride", "pad", "ceil", "count_pad")),
    "linear": OpDef(_linear, ("features",), ("bias", "in", "bias_unused")),
    "dropout": OpDef(_dropout, ("p",), ("p",)),
    "zeropad": OpDef(_zeropad, ("padding",), axis_options=True),
    "add": OpDef(T_.scalar_or(_plain(N.Add)), ("value",), arity=(1, 64)),
    "mul": OpDef(T_.scalar_or(_plain(N.Mul)), ("value",), arity=(1, 2)),
    "sub": OpDef(T_.scalar_or(T_._two(N.Sub)), ("value",), ("reverse",), arity=(1, 2)),
    "div": OpDef(T_.scalar_or(T_._two(N.Div)), ("value",), ("reverse",), arity=(1, 2)),
    "concat": OpDef(_concat, (), ("axis",), arity=(1, 64)),
    "rearrange": OpDef(T_._rearrange, ("pattern",), axis_options=True),
    "reduce": OpDef(T_._reduce, ("mode", "pattern"), axis_options=True),
    "softmax": OpDef(T_._softmax, (), ("axis",)),
    "roll": OpDef(T_._roll, (), ("back",), axis_options=True),
    "crop": OpDef(T_._crop, (), (), axis_options=True),
    "select": OpDef(T_._select, (), (), axis_options=True),
    "matmul": OpDef(T_._matmul, (), ("transpose",), arity=(2, 2)),
    "tensor": OpDef(T_._tensor, ("axes",), ("lead", "init", "std", "value"), arity=(0, 0), axis_options=True),
    "shift_mask": OpDef(T_._shift_mask, (), ("window", "shift", "size"), arity=(0, 0)),
    "position_bias": OpDef(T_._position_bias, (), ("window", "flat")),
    "attention": OpDef(T_._attention, ("heads",), ("heads", "dropout")),
    "clamp": OpDef(T_._clamp, (), ("min", "max")),
    "coords_table": OpDef(T_._coords_table, (), ("window",), arity=(0, 0)),
}


def value_inputs(call: Call, definition: OpDef, resolve: Callable[[T.Name], int]) -> list[int]:
    """The values that options such as `to=NAME` name, each resolved by `resolve` as `from` resolves
    its names: the op's inputs after those of `from`."""
    found = []
    for name in definition.value_options:
        option = call.options.get(name)
        if option is None:
            continue
        if not isinstance(option.value, T.Name):
            raise invalid("E0209", f"`{name}` names a value", option.value.span, "not a value's name",
                          f"write the name of a value defined above, or `input`: `{name}=input`")
        found.append(resolve(option.value))
    return found


def check_call(call: Call, definition: OpDef) -> None:
    """Reject unknown options and surplus arguments before the op runs."""
    for name, option in call.options.items():
        if name not in definition.options and not definition.axis_options:
            allowed = ", ".join(definition.options) or "none"
            hint = did_you_mean(name, definition.options) or f"{call.op} takes: {allowed}"
            raise invalid("E0203", f"{call.op} has no option `{name}`", option.name_span, "unknown option", hint)
    if len(call.positional) > len(definition.positional):
        extra = call.positional[len(definition.positional)]
        takes = " ".join(definition.positional) or "no arguments"
        hint = f"{call.op} takes: {takes}"
        meant = as_layer_type(extra.name, OPS) if isinstance(extra, T.Name) and not definition.positional else None
        if meant is not None:
            hint = f"a layer reads NAME TYPE: to name a {meant} layer `{call.op}`, write `{call.op} {meant}`"
        elif after_double_slash(extra.span):
            hint = COMMENT_HINT
        raise invalid("E0206", f"too many arguments for {call.op}", extra.span, "unexpected", hint)
    if call.stride_arg is not None:
        check_stride_place(call.stmt, call.stride_arg, call.positional, f"{call.op} 64 3x3 /2")
    if call.stride_arg is not None and "stride" not in definition.options:
        raise invalid("E0206", f"{call.op} has no stride", call.stride_arg.span, "unexpected stride",
                      f"only conv, deconv, maxpool and avgpool take a stride; {call.op} keeps the size")
