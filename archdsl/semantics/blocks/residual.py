"""The residual frame of the `res2` block type: `repeat` blocks, each its branch, SE, the
shortcut, the add and the relu.

`basic` and `bottleneck` are written in the language (archdsl/prelude.arch); res2 stays in
Python (docs/architecture.md, "Block types"), and this is its share of what they do.
"""

from __future__ import annotations

from typing import Callable

from archdsl.ir import nodes as N
from archdsl.semantics.blocks import Option, Row, bool_option, choice_option, int_option, norm, norm_options
from archdsl.semantics.blocks.se import check_reduction, se_option, squeeze_excite
from archdsl.semantics.emit import Emitter, join
from archdsl.semantics.replay import repeated

SHORTCUTS = ("auto", "identity", "proj", "avgdown")


def residual_options(stride_at: str) -> dict[str, Option]:
    """The options a residual block type takes."""
    return {
        "groups": int_option(1, help="groups of the 3x3 convs (ResNeXt cardinality)"),
        "stride_at": choice_option(("first", "3x3"), stride_at, "which conv carries the block's stride"),
        "shortcut": choice_option(SHORTCUTS, "auto", "where shape changes: 1x1 projection (auto) or avg-pool then projection (avgdown); or always identity / proj"),
        "bias": bool_option(False, "give every conv a bias"),
        **norm_options(),
        "pad": choice_option(("auto", "same"), "auto", "conv padding: kernel // 2 (auto, PyTorch's blocks) or "
                             "TensorFlow's same (where uneven, the extra row and column at the bottom and right)"),
        "se": se_option(),
    }


def conv_pad(row: Row):
    """The `pad` argument of the block's convs (see Emitter.conv)."""
    return "same" if row.options["pad"] == "same" else None


#: builds a block's branch: (row, emitter, input, block path, block stride) -> output
Branch = Callable[[Row, Emitter, int, str, int], int]


def expand_stage(row: Row, em: Emitter, x: int, branch: Branch) -> int:
    """`repeat` blocks of `branch`; the first one carries the row's stride. The blocks after the
    first are alike: from the third on, each is the second made again (replay.py)."""
    check_reduction(row, row.convs[-1].channels)

    def build(i: int, x: int, path: str) -> int:
        return residual_block(row, em, x, path, row.stride if i == 0 else 1, branch)

    return repeated(em, em.repeats(row), x, lambda i: join(row.path, str(i)), build, lambda: row.repeat > 2)


def residual_block(row: Row, em: Emitter, x: int, path: str, stride: int, branch: Branch) -> int:
    with em.unit(path):
        out = branch(row, em, x, path, stride)
        if row.options["se"]:
            out = squeeze_excite(em, out, join(path, "se"), row.span, row.options["se"])
        shortcut = make_shortcut(row, em, x, path, stride, row.convs[-1].channels)
        out = em.add([out, shortcut], join(path, "add"), row.span)
        return em.relu(out, join(path, "relu"), row.span)


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
