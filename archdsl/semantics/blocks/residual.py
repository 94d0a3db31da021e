"""What the residual block types share: conv-norm-act chains, the shortcut, the add.

`basic` and `bottleneck` (and, with extra options, their SE and ResNeXt forms)
differ only in defaults; both are built here from their stage-table rows.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from archdsl.ir import nodes as N
from archdsl.semantics.blocks import Option, Row, bool_option, choice_option, int_option, norm, norm_options
from archdsl.semantics.blocks.se import check_reduction, se_option, squeeze_excite
from archdsl.semantics.emit import Emitter, join

SHORTCUTS = ("auto", "identity", "proj", "avgdown")


def residual_options(stride_at: str, dilate: bool = True) -> dict[str, Option]:
    """The options of the residual block types; `dilate` where the type's convs can be dilated."""
    return {
        "groups": int_option(1, help="groups of the 3x3 convs (ResNeXt cardinality)"),
        "stride_at": choice_option(("first", "3x3"), stride_at, "which conv carries the block's stride"),
        "shortcut": choice_option(SHORTCUTS, "auto", "where shape changes: 1x1 projection (auto) or avg-pool then projection (avgdown); or always identity / proj"),
        "bias": bool_option(False, "give every conv a bias"),
        **norm_options(),
        "pad": choice_option(("auto", "same"), "auto", "conv padding: kernel // 2 (auto, PyTorch's blocks) or "
                             "TensorFlow's same (where uneven, the extra row and column at the bottom and right)"),
        "se": se_option(),
        **({"dilate": bool_option(False, "torchvision's replace_stride_with_dilation: the row's stride becomes a "
                                  "dilation of its convs, and the row keeps its input's size")} if dilate else {}),
    }


def dilated(row: Row, before: int) -> tuple[Row, int]:
    """The row as its blocks are built, given the dilation of the rows before it in its section,
    and the dilation it leaves to the next row. torchvision's `_make_layer` rule: a `dilate=true`
    row multiplies the running dilation by its stride and strides no more (its projection becomes
    a 1x1 of stride 1); its first block keeps the dilation of the rows before it, the others take
    the new one. A row without `dilate` has the running dilation throughout."""
    if not row.options.get("dilate"):
        return replace(row, dilation=(before, before)), before
    after = before * row.stride
    return replace(row, stride=1, dilation=(before, after)), after


def conv_pad(row: Row):
    """The `pad` argument of the block's convs (see Emitter.conv)."""
    return "same" if row.options["pad"] == "same" else None


#: builds a block's branch: (row, emitter, input, block path, block stride) -> output
Branch = Callable[[Row, Emitter, int, str, int], int]


def expand_stage(row: Row, em: Emitter, x: int, branch: Branch | None = None) -> int:
    """`repeat` blocks; the first one carries the row's stride. `branch` defaults to the conv chain."""
    check_reduction(row, row.convs[-1].channels)
    first, rest = row.dilation
    for i in em.repeats(row):
        unit = row if i == 0 or first == rest else replace(row, dilation=(rest, rest))
        x = residual_block(unit, em, x, join(row.path, str(i)), row.stride if i == 0 else 1, branch or conv_chain)
    return x


def residual_block(row: Row, em: Emitter, x: int, path: str, stride: int, branch: Branch) -> int:
    with em.unit(path):
        out = branch(row, em, x, path, stride)
        if row.options["se"]:
            out = squeeze_excite(em, out, join(path, "se"), row.span, row.options["se"])
        shortcut = make_shortcut(row, em, x, path, stride, row.convs[-1].channels)
        out = em.add([out, shortcut], join(path, "add"), row.span)
        return em.relu(out, join(path, "relu"), row.span)


def stride_index(row: Row) -> int:
    if row.options["stride_at"] == "first":
        return 0
    return next((i for i, c in enumerate(row.convs) if max(c.kernel) > 1), 0)


def conv_chain(row: Row, em: Emitter, x: int, path: str, stride: int) -> int:
    """conv-bn-relu for each listed conv, without the last relu; every conv wider than 1x1 has the
    block's dilation (the first of `row.dilation`: expand_stage gives each block its own)."""
    at = stride_index(row)
    opts = row.options
    for j, entry in enumerate(row.convs, start=1):
        wide = max(entry.kernel) > 1
        x = em.conv(x, join(path, f"conv{j}"), entry.span, entry.channels, entry.kernel,
                    stride if j - 1 == at else 1, pad=conv_pad(row), groups=opts["groups"] if wide else 1,
                    bias=opts["bias"], dilation=row.dilation[0] if wide else 1)
        x = norm(em, x, join(path, f"bn{j}"), entry.span, opts)
        if j < len(row.convs):
            x = em.relu(x, join(path, "relu"), entry.span)
    return x


def shortcut_kind(row: Row, em: Emitter, x: int, stride: int, out_channels: int) -> str:
    """`identity`, `proj` or `avgdown`: the row's `shortcut` option resolved for one block."""
    kind = row.options["shortcut"]
    t = em.type_of(x)
    shape_kept = stride == 1 and t is not None and t.channels == out_channels
    if kind in ("auto", "avgdown") and shape_kept:
        return "identity"
    return "proj" if kind == "auto" else kind


def make_shortcut(row: Row, em: Emitter, x: int, path: str, stride: int, out_channels: int) -> int:
    kind = shortcut_kind(row, em, x, stride, out_channels)
    if kind == "identity":
        return x
    down = join(path, "downsample")
    with em.frame("scope", down, "downsample"):
        return _projection(row, em, x, down, kind, stride, out_channels)


def _projection(row: Row, em: Emitter, x: int, down: str, kind: str, stride: int, out_channels: int) -> int:
    """The shortcut's layers under `down`: a 1x1 conv and norm, after a 2x2 average pool for avgdown."""
    opts = row.options
    if kind == "proj":
        y = em.conv(x, join(down, "0"), row.span, out_channels, 1, stride, bias=opts["bias"])
        return norm(em, y, join(down, "1"), row.span, opts)
    if stride > 1:
        x = em.emit(N.AvgPool, [x], join(down, "0"), row.span, kernel=(2, 2), stride=(stride, stride),
                    ceil_mode=True, count_include_pad=False)
    y = em.conv(x, join(down, "1"), row.span, out_channels, 1, 1, bias=opts["bias"])
    return norm(em, y, join(down, "2"), row.span, opts)
