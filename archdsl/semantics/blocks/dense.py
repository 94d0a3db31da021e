"""`dense` and `transition`: DenseNet (Huang et al. 2017), with torchvision's layout and names.

A `dense` row is one dense block: `denseblock1 [6, [[128,1x1],[32,3x3]]]` is six
units `denselayer1` .. `denselayer6`. A unit takes everything computed so far and
runs, for each listed conv k, `norm{k}` -> `relu{k}` -> `conv{k}` (pre-activation);
its output (the last conv's channels: the growth rate) is concatenated to what
it was given, as torchvision's `torch.cat([init] + new_features)`. A block of n
units on C channels therefore ends with C + n x growth channels.

A `transition` row (`transition1 transition compress=0.5`) has no table: `norm`,
`relu`, a 1x1 `conv` to floor(C x compress) channels and a 2x2 average `pool`
with stride 2.
"""

from __future__ import annotations

import math
from fractions import Fraction

from archdsl.diagnostics import error
from archdsl.ir import nodes as N
from archdsl.semantics.blocks import BlockType, Row, bool_option, float_option, int_option, norm, norm_options
from archdsl.semantics.emit import Emitter, join
from archdsl.semantics.values import invalid


def _shared_options(out_help: str) -> dict:
    return {
        "bias": bool_option(False, "give the convs a bias"),
        **norm_options(),
        "out": int_option(0, minimum=0, help=out_help),
    }


def expand_dense(row: Row, em: Emitter, x: int) -> int:
    no_stride(row, "dense", "a dense block keeps its size; the transition after it halves it")
    check_growth(row, em, x)
    opts = row.options
    for i in em.repeats(row):
        unit = join(row.path, f"denselayer{i + 1}")
        y = x
        for k, entry in enumerate(row.convs, start=1):
            y = norm(em, y, join(unit, f"norm{k}"), entry.span, opts)
            y = em.relu(y, join(unit, f"relu{k}"), entry.span)
            y = em.conv(y, join(unit, f"conv{k}"), entry.span, entry.channels, entry.kernel, bias=opts["bias"])
        x = em.concat([x, y], join(unit, "cat"), row.span)
    return x


def no_stride(row: Row, block: str, why: str) -> None:
    if row.stride != 1:
        raise invalid("E0206", f"a {block} row takes no stride", row.span, f"/{row.stride} on `{row.name}`", why)


def check_growth(row: Row, em: Emitter, x: int) -> None:
    """E0323: a declared `out` must be the input channels plus one growth per unit."""
    t, declared = em.type_of(x), row.options["out"]
    if t is None or not declared:
        return
    growth = row.convs[-1].channels
    total = t.channels + row.repeat * growth
    if total != declared:
        em.diagnostics.append(error(
            "E0323", f"dense block `{row.name}` ends with {total} channels, not out={declared}", row.option_span("out"),
            f"{t.channels} + {row.repeat} x {growth} = {total}",
            f"each of the {row.repeat} units concatenates {growth} channels to its input; "
            + _declare_out(row, total)))


def expand_transition(row: Row, em: Emitter, x: int) -> int:
    no_stride(row, "transition", "a transition always pools 2x2 with stride 2")
    compress = row.options["compress"]
    if not 0 < compress <= 1:
        raise invalid("E0209", "compress must be above 0 and at most 1", row.span, f"compress={compress}",
                      "DenseNet-BC uses compress=0.5")
    t = em.type_of(x)
    if t is None:
        return x
    out = compressed(t.channels, compress)
    if out < 1:
        raise invalid("E0324", f"transition `{row.name}` leaves no channels: {_rounding(t.channels, compress)}",
                      row.span, f"{t.channels} channels in", "use a larger compress")
    if row.options["out"] and row.options["out"] != out:
        em.diagnostics.append(error(
            "E0324", f"transition `{row.name}` gives {out} channels, not out={row.options['out']}",
            row.option_span("out"), _rounding(t.channels, compress), _declare_out(row, out)))
    opts = row.options
    y = norm(em, x, join(row.path, "norm"), row.span, opts)
    y = em.relu(y, join(row.path, "relu"), row.span)
    y = em.conv(y, join(row.path, "conv"), row.span, out, 1, bias=opts["bias"])
    return em.emit(N.AvgPool, [y], join(row.path, "pool"), row.span, kernel=(2, 2), stride=(2, 2))


def _declare_out(row: Row, out: int) -> str:
    if row.inherits("out"):
        return (f"`out` on the `stages` line reaches every row, `{row.name}` too: declare each row's own "
                f"(here out={out}) instead")
    return f"write out={out}, or leave `out` out"


def compressed(channels: int, compress: float) -> int:
    """floor(channels x compress), exact for the decimal as written (0.29 x 100 is 29)."""
    return math.floor(channels * Fraction(str(compress)))


def _rounding(channels: int, compress: float) -> str:
    exact = channels * Fraction(str(compress))
    if exact.denominator == 1:
        return f"{channels} x {compress:g} = {exact.numerator}"
    return f"{channels} x {compress:g} = {float(exact):g}, rounded down to {compressed(channels, compress)}"


BLOCK = BlockType("dense", expand_dense,
                  _shared_options("the block's output channels, checked (0: not declared)"),
                  example="denseblock1 [6, [[128,1x1],[32,3x3]]]")

TRANSITION = BlockType("transition", expand_transition,
                       {**_shared_options("the output channels, checked (0: not declared)"),
                        "compress": float_option(0.5, "the fraction of channels kept (rounded down)")},
                       table=False, example="transition1 transition compress=0.5")
