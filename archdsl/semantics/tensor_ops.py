"""Layer statements on named axes: rearrange, reduce, softmax, roll, crop, select, pad, arithmetic,
matmul, learned and fixed tensors, position biases and attention.

An option named after one of the input's axes (`roll h=3 w=3`, `crop n=(1, 197)`) acts on that
axis; `axis=` names one axis (or gives its position, counted from 0 without the batch). A
pattern's mistakes are reported inside the quoted pattern, where they are.
"""

from __future__ import annotations

from archdsl.diagnostics import Span, did_you_mean
from archdsl.ir import axes as A
from archdsl.ir import nodes as N
from archdsl.semantics.emit import Emitter
from archdsl.semantics.values import Unknown, invalid
from archdsl.syntax import tree as T


def input_type(em: Emitter, xs: list[int]) -> N.TensorType:
    """The type of the statement's (first) input; Unknown (say nothing) after an earlier error."""
    t = em.type_of(xs[0])
    if t is None:
        raise Unknown()
    return t


def pattern_span(value, error: A.PatternError) -> Span:
    """Where in the quoted pattern `error` is (the whole pattern where it names no place)."""
    span = value.span
    if not error.width or span.line != span.end_line:
        return span
    start = span.col + 1 + error.offset
    return Span(span.source, span.line, start, span.line, start + error.width)


def read_pattern(call, index: int, example: str):
    value = call.positional[index] if index < len(call.positional) else None
    if not isinstance(value, T.Str):
        where = value.span if value is not None else call.span
        raise invalid("E0207", f"{call.op} needs a pattern in quotes", where, "pattern missing",
                      f"write it like `{example}`")
    return value


def axis_sizes(call, skip: tuple[str, ...] = ()) -> tuple[tuple[str, int], ...]:
    """The `name=size` options of a pattern statement."""
    return tuple((name, call.ev.int_(option.value, f"the size of `{name}`"))
                 for name, option in call.options.items() if name not in skip)


def bind_or_report(call, value: T.Str, t: N.TensorType, sizes, same_names: bool) -> A.Plan:
    """Check the pattern against the input now, so its problems are said at the pattern."""
    try:
        return A.planned(value.value, same_names, t.shape, tuple(dict(sizes).items()))
    except A.PatternError as error:
        raise invalid("E0340", error.message, pattern_span(value, error), f"input is {t}", error.help) from None


def fixes_size(call, em: Emitter, xs: list[int], plan: A.Plan | None = None) -> None:
    """Axis sizes worked out at check time hold at the declared input size only, where the value's
    sizes follow the input image's (a map larger than 1x1, a sequence of patches) and the op holds
    them (a reshape, a range, a shift; not a reduction over the channels alone): the built module
    says so if given another size, and a dynamic-size export is refused (E0702)."""
    t = em.type_of(xs[0]) if xs else None
    if t is None or not t.batched or not _follows_the_image(t):
        return
    if plan is not None and not _holds_sizes(plan, t, call.op):
        return
    em.fix_size(call.span, f"`{call.op}` holds sizes worked out for the declared input")


def _follows_the_image(t: N.TensorType) -> bool:
    if t.is_image:
        return t.height > 1 or t.width > 1
    return not t.is_flat


def _holds_sizes(plan: A.Plan, t: N.TensorType, op: str) -> bool:
    """Whether a pattern's lowering reshapes by sizes (a pure reduction or permutation does not)."""
    kept = tuple(plan.split[i] for i in plan.order)
    return tuple(plan.split) != tuple(t.shape) or (op == "rearrange" and kept != tuple(plan.shape))


def _rearrange(call, em: Emitter, xs: list[int]) -> int:
    pattern = read_pattern(call, 0, 'rearrange "c h w -> (h w) c"')
    sizes = axis_sizes(call)
    plan = bind_or_report(call, pattern, input_type(em, xs), sizes, True)
    fixes_size(call, em, xs, plan)
    return em.emit(N.Rearrange, xs, call.path, call.span, pattern=pattern.value, sizes=sizes)


def _reduce(call, em: Emitter, xs: list[int]) -> int:
    mode = call.arg(0, "a reduction (mean, sum, max, l2)",
                    lambda v, what: call.ev.choice(v, what, ("mean", "sum", "max", "l2")),
                    example='reduce mean "c h w -> c"')
    pattern = read_pattern(call, 1, f'reduce {mode} "c h w -> c"')
    sizes = axis_sizes(call)
    plan = bind_or_report(call, pattern, input_type(em, xs), sizes, False)
    fixes_size(call, em, xs, plan)
    return em.emit(N.Reduce, xs, call.path, call.span, mode=mode, pattern=pattern.value, sizes=sizes)


def axis_of(t: N.TensorType, name_or_index, span: Span) -> int:
    """The position of an axis written by name or by position."""
    if isinstance(name_or_index, int) and not isinstance(name_or_index, bool):
        if 0 <= name_or_index < t.rank:
            return name_or_index
        raise invalid("E0341", f"axis {name_or_index} is outside the input's {t.rank} axes", span,
                      f"input is {t}", f"positions run from 0 to {t.rank - 1}, or name the axis: {', '.join(t.axes)}")
    if name_or_index in t.axes:
        return t.axes.index(name_or_index)
    hint = did_you_mean(str(name_or_index), t.axes) or f"its axes are {', '.join(t.axes)}"
    raise invalid("E0341", f"the input has no axis `{name_or_index}`", span, f"input is {t}", hint)


def _axis_option(call, t: N.TensorType, default: int) -> int:
    option = call.options.get("axis")
    if option is None:
        return default
    return axis_of(t, call.ev.word(option.value), option.value.span)


def _softmax(call, em: Emitter, xs: list[int]) -> int:
    t = input_type(em, xs)
    default = 0 if t.is_image or t.is_flat else t.rank - 1
    return em.emit(N.Softmax, xs, call.path, call.span, axis=_axis_option(call, t, default))


def axis_options(call, t: N.TensorType, known: tuple[str, ...]):
    """(axis position, option) for each option named after an axis of `t`."""
    found = []
    for name, option in call.options.items():
        if name in known:
            continue
        if name not in t.axes:
            hint = did_you_mean(name, (*t.axes, *known)) or \
                f"options name the input's axes ({', '.join(t.axes)}) or are one of: {', '.join(known) or 'none'}"
            raise invalid("E0341", f"the input has no axis `{name}`", option.name_span, f"input is {t}", hint)
        found.append((t.axes.index(name), option))
    if not found:
        raise invalid("E0207", f"{call.op} needs an axis to act on", call.span, "which axis?",
                      f"name it as an option, like `{call.op} {t.axes[-1]}=...` (axes: {', '.join(t.axes)})")
    return found


def _roll(call, em: Emitter, xs: list[int]) -> int:
    t = input_type(em, xs)
    back = call.opt("back", call.ev.bool_, False)
    shifts = []
    for axis, option in axis_options(call, t, ("back",)):
        shift = call.ev.int_(option.value, f"the shift along `{t.axes[axis]}`", minimum=0) % t.shape[axis]
        shifts.append((axis, (t.shape[axis] - shift) % t.shape[axis] if back else shift))
    fixes_size(call, em, xs)
    return em.emit(N.Roll, xs, call.path, call.span, shifts=tuple(shifts))


def _range(call, option, what: str) -> tuple[int, int]:
    value = call.ev.eval(option.value)
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise invalid("E0209", f"{what} must be a range (start, stop)", option.value.span, "not a range",
                      "write it like n=(1, 197): from position 1 up to, not including, 197")
    return tuple(value)


def _crop(call, em: Emitter, xs: list[int]) -> int:
    t = input_type(em, xs)
    ranges = tuple((axis, *_range(call, option, f"`{t.axes[axis]}`")) for axis, option in axis_options(call, t, ()))
    fixes_size(call, em, xs)
    return em.emit(N.Crop, xs, call.path, call.span, ranges=ranges)


def _select(call, em: Emitter, xs: list[int]) -> int:
    t = input_type(em, xs)
    (axis, option), *more = axis_options(call, t, ())
    if more:
        raise invalid("E0206", "select takes one axis", more[0][1].span, "one too many",
                      "select one position of one axis; chain two selects for two")
    index = call.ev.int_(option.value, f"the position on `{t.axes[axis]}`", minimum=0)
    return em.emit(N.Select, xs, call.path, call.span, axis=axis, index=index)


def _pad(call, em: Emitter, xs: list[int]) -> int:
    t = input_type(em, xs)
    pads = []
    for axis, option in axis_options(call, t, ()):
        value = call.ev.eval(option.value)
        both = (value, value) if isinstance(value, int) else value
        if not (isinstance(both, (list, tuple)) and len(both) == 2 and all(isinstance(v, int) and v >= 0 for v in both)):
            raise invalid("E0209", f"the padding of `{t.axes[axis]}` must be a count or (before, after)",
                          option.value.span, "not a padding", "write h=1 (both sides) or h=(0, 1) (after only)")
        pads.append((axis, *both))
    fixes_size(call, em, xs)
    return em.emit(N.Pad, xs, call.path, call.span, pads=tuple(pads))


def _number_argument(call):
    """The constant of `mul 0.5`, `add 1`: the first positional argument, if any."""
    if not call.positional:
        return None
    value = call.ev.eval(call.positional[0])
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid("E0209", f"{call.op} takes a number or values `from`", call.positional[0].span,
                      "not a number", f"write `{call.op} 0.5` or `{call.op} from a, b`")
    return float(value)


def scalar_or(two_inputs):
    """A builder for `add`/`mul`/`sub`/`div`: with a number, a Scalar node on one input."""
    def build(call, em: Emitter, xs: list[int]) -> int:
        value = _number_argument(call)
        if value is None:
            if len(xs) < 2:
                raise invalid("E0207", f"{call.op} needs its inputs", call.span, "which values?",
                              f"name them: `{call.op} from a, b`")
            return two_inputs(call, em, xs)
        if len(xs) > 1:
            raise invalid("E0206", f"{call.op} with a number takes one input, got {len(xs)}", call.span,
                          "a number and values", f"write `{call.op} {value:g} from a`")
        kind = "rsub" if call.op == "sub" and call.opt("reverse", call.ev.bool_, False) else call.op
        kind = "rdiv" if call.op == "div" and call.opt("reverse", call.ev.bool_, False) else kind
        return em.emit(N.Scalar, xs, call.path, call.span, kind=kind, value=value)
    return build


def _two(cls):
    return lambda call, em, xs: em.emit(cls, xs, call.path, call.span)


def _matmul(call, em: Emitter, xs: list[int]) -> int:
    return em.emit(N.MatMul, xs, call.path, call.span, transpose=call.opt("transpose", call.ev.bool_, False))


def _tensor(call, em: Emitter, xs: list[int]) -> int:
    pattern = read_pattern(call, 0, 'tensor "n c" n=1 c=768')
    try:
        side = A.parse_side(pattern.value)
    except A.PatternError as error:
        raise invalid("E0340", error.message, pattern_span(pattern, error), "bad axes", error.help) from None
    known = ("lead", "init", "std", "value")
    sizes = dict(axis_sizes(call, known))
    names = [g.name for g in side.groups]
    missing = [n for n in names if n not in sizes]
    extra = [n for n in sizes if n not in names]
    if missing or extra or any(len(g.names) != 1 for g in side.groups):
        what = f"`{missing[0]}` has no size" if missing else (
            f"`{extra[0]}` is not one of its axes" if extra else "a tensor's axes are plain names")
        raise invalid("E0340", f"tensor: {what}", pattern.span, "axes and sizes",
                      'name each axis once and give each a size: `tensor "n c" n=1 c=768`')
    init = call.opt("init", lambda v, what: call.ev.choice(v, what, N.INITS), "zeros")
    return em.emit(N.LearnedTensor, [], call.path, call.span, shape=tuple(sizes[n] for n in names),
                   axes_names=tuple(names), lead=call.opt("lead", call.ev.bool_, False), init=init,
                   std=call.opt("std", call.ev.float_, 0.02), value=float(call.opt("value", call.ev.float_, 0.0)))


def _shift_mask(call, em: Emitter, xs: list[int]) -> int:
    ev = call.ev
    window = call.opt("window", ev.pair, None)
    grid = call.opt("size", ev.pair, None)
    if window is None or grid is None:
        raise invalid("E0207", "shift_mask needs a window and a size", call.span, "window or size missing",
                      "write it like `shift_mask window=7 shift=3 size=56x56`")
    shift = call.opt("shift", lambda v, what: ev.pair(v, what, minimum=0), (0, 0))
    for w, g, s, axis in zip(window, grid, shift, "hw"):
        if g % w or s >= w:
            raise invalid("E0209", f"shift_mask: the size {g} along {axis} is not whole windows of {w}, or the "
                          f"shift {s} is not less than the window", call.span, "does not fit",
                          "pad the value to a multiple of the window first; the shift is less than the window")
    return em.emit(N.ShiftMask, [], call.path, call.span, window=window, shift=shift, grid=grid)


def _position_bias(call, em: Emitter, xs: list[int]) -> int:
    window = call.opt("window", call.ev.pair, None)
    if window is None:
        raise invalid("E0207", "position_bias needs a window", call.span, "window missing",
                      "write it like `position_bias window=7 from relative_position_bias_table`")
    return em.emit(N.PositionBias, xs, call.path, call.span, window=window, flat=call.opt("flat", call.ev.bool_, True))


def _attention(call, em: Emitter, xs: list[int]) -> int:
    heads = call.arg(0, "a number of heads", call.ev.int_, call.opt("heads", call.ev.int_, None))
    if heads is None:
        raise invalid("E0207", "attention needs a number of heads", call.span, "heads missing",
                      "write it like `attention 12` or `attention heads=12`")
    dropout = call.opt("dropout", call.ev.float_, 0.0)
    return em.emit(N.Attention, xs, call.path, call.span, heads=heads, dropout=dropout)


def _clamp(call, em: Emitter, xs: list[int]) -> int:
    low, high = call.opt("min", call.ev.float_, None), call.opt("max", call.ev.float_, None)
    if low is None and high is None:
        raise invalid("E0207", "clamp needs a bound", call.span, "min or max missing",
                      "write it like `clamp max=4.6` or `clamp min=1e-12`")
    return em.emit(N.Clamp, xs, call.path, call.span, min=low, max=high)


def _coords_table(call, em: Emitter, xs: list[int]) -> int:
    window = call.opt("window", call.ev.pair, None)
    if window is None or min(window) < 2:
        raise invalid("E0207", "coords_table needs a window of at least 2x2", call.span, "window missing",
                      "write it like `relative_coords_table coords_table window=8`")
    return em.emit(N.CoordsTable, [], call.path, call.span, window=window)
