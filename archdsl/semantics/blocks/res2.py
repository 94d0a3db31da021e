"""`res2`: the Res2Net bottleneck (Gao et al. 2019), with timm's layout and names.

A row lists the block as a bottleneck: `[3, [[104,1x1],[104,3x3],[256,1x1]]] scales=4`.
`conv1`/`bn1` widen to 104 channels; those are split into `scales` parts of
104 / 4 = 26, and every part but one goes through its own 3x3 conv
(`convs.i`, `bns.i`, relu), each part after the first adding the previous
part's output first. The remaining part is passed through unchanged. The parts
are concatenated and `conv3`/`bn3` expand to the output; then the shortcut is
added as in `bottleneck` (`downsample.0/1`).

timm's first-block rule (`pool_first`, on by default): a block that downsamples
or needs a projection shortcut does not chain its parts, and average-pools the
kept part (3x3, the block's stride, padding 1). `keep_first` keeps the first part
instead of the last, as the paper's y1 = x1 and seed 004 do. With `groups` the
3x3 convs are grouped (Res2NeXt); `se` adds squeeze-and-excitation after `bn3`.
`width=26` declares timm's base width (the "26w" of res2net50_26w_4s); the table
is then checked against it.
"""

from __future__ import annotations

from archdsl.diagnostics import Label, error
from archdsl.ir import nodes as N
from archdsl.ir.shapes import nearest_multiples, not_divisible_help
from archdsl.semantics.blocks import BlockType, ConvEntry, Row, bool_option, int_option, norm
from archdsl.semantics.blocks.residual import conv_pad, expand_stage, residual_options, shortcut_kind
from archdsl.semantics.emit import Emitter, join
from archdsl.semantics.values import Invalid, invalid


#: parts one 3x3 entry may be cut into (timm's Res2Nets use 2 to 8), well inside what one concat joins
MAX_SCALES = 64


def options():
    return {
        **residual_options("3x3"),
        "scales": int_option(4, help="how many parts the 3x3 entry's channels are split into", maximum=MAX_SCALES),
        "width": int_option(0, minimum=0,
                            help="timm's base width (26 in res2net50_26w_4s), checked against the table (0: none)"),
        "pool_first": bool_option(True, "timm's first-block rule: no chaining, the kept part average-pooled"),
        "keep_first": bool_option(False, "pass the first part through unchanged instead of the last"),
    }


def expand(row: Row, em: Emitter, x: int) -> int:
    check_table(row)
    return expand_stage(row, em, x, res2_branch)


def check_table(row: Row) -> None:
    """The 3x3 entry splits conv1's output into `scales` equal parts (E0320, E0321, E0325) that
    `groups` divides (E0304), and the parts keep one size (E0326)."""
    first, middle, _ = row.convs
    scales, width = row.options["scales"], row.options["width"]
    if middle.channels % scales:
        raise invalid("E0320", f"res2: {scales} scales do not divide the 3x3 entry's {middle.channels} channels",
                      middle.span, f"{middle.channels} channels in {scales} parts",
                      not_divisible_help(middle.channels, scales))
    groups = row.options["groups"]
    if middle.channels // scales % groups:
        part = middle.channels // scales
        raise invalid("E0304", f"res2: groups={groups} does not divide a part's {part} channels "
                      f"({middle.channels} / {scales} scales)", middle.span, f"parts of {part} in {groups} groups",
                      f"conv1's and the 3x3 entry's channels must be a multiple of scales x groups = "
                      f"{scales * groups}; nearest: {nearest_multiples(middle.channels, scales * groups)}")
    if first.channels != middle.channels:
        raise Invalid(error(
            "E0321", f"res2: the 3x3 entry lists {middle.channels} channels, but conv1 gives {first.channels}",
            middle.span, f"splits {first.channels} channels",
            "the parts of the 3x3 entry are cut from conv1's output: list the same channels in both",
            (Label(first.span, f"conv1 gives {first.channels}"),)))
    if row.stride > 1 and not row.options["pool_first"] and row.options["stride_at"] == "3x3" and scales > 1:
        raise invalid("E0326", "res2: with pool_first=false the 3x3s cannot carry the stride", middle.span,
                      f"the part passed on would stay {row.stride}x larger than the convolved ones",
                      "put the stride on conv1 (stride_at=first), or pool the kept part "
                      "(pool_first=true, as timm)")
    if width and part_width(row) * scales != middle.channels:
        expected = part_width(row) * scales
        raise invalid("E0325", f"res2: width={width} makes {scales} parts of {part_width(row)} here "
                      f"({expected} channels), but the 3x3 entry lists {middle.channels}", middle.span,
                      f"{middle.channels} = {scales} x {middle.channels // scales}",
                      f"a part has floor(out / 4 x width / 64) x groups channels, out = {row.convs[-1].channels}; "
                      f"write [{expected},{_size(middle)}], or drop `width`")


def part_width(row: Row) -> int:
    """timm's base width: floor(planes x width / 64) x groups, planes being the output / 4."""
    opts = row.options
    return row.convs[-1].channels // 4 * opts["width"] // 64 * opts["groups"]


def _size(entry: ConvEntry) -> str:
    return "x".join(map(str, entry.kernel))


def res2_branch(row: Row, em: Emitter, x: int, path: str, stride: int) -> int:
    """conv1-bn1-relu, the split 3x3 convs, conv3-bn3; the stride on conv1 or on the 3x3s."""
    first, _, last = row.convs
    opts = row.options
    on_first = opts["stride_at"] == "first"
    plain = opts["pool_first"] and (stride > 1 or shortcut_kind(row, em, x, stride, last.channels) != "identity")
    y = em.conv(x, join(path, "conv1"), first.span, first.channels, first.kernel, stride if on_first else 1,
                pad=conv_pad(row), bias=opts["bias"])
    y = norm(em, y, join(path, "bn1"), first.span, opts)
    y = em.relu(y, join(path, "relu"), first.span)
    y = hierarchy(row, em, y, path, 1 if on_first else stride, plain)
    y = em.conv(y, join(path, "conv3"), last.span, last.channels, last.kernel, pad=conv_pad(row), bias=opts["bias"])
    return norm(em, y, join(path, "bn3"), last.span, opts)


def hierarchy(row: Row, em: Emitter, x: int, path: str, stride: int, plain: bool) -> int:
    """The parts of x through their 3x3 convs, each adding the previous output unless `plain`."""
    entry = row.convs[1]
    scales = row.options["scales"]
    if scales == 1:
        return part_conv(row, em, x, path, 0, stride)
    width = entry.channels // scales
    parts = [em.emit(N.ChannelSlice, [x], join(path, f"split{i}"), entry.span, start=i * width, size=width)
             for i in range(scales)]
    keep_first = row.options["keep_first"]
    kept = parts.pop(0) if keep_first else parts.pop()
    outs: list[int] = []
    for i, part in enumerate(parts):
        if outs and not plain:
            part = em.add([part, outs[-1]], join(path, f"chain{i}"), entry.span)
        outs.append(part_conv(row, em, part, path, i, stride))
    if plain:  # under pad=same, TensorFlow's average: the padding left out
        same = row.options["pad"] == "same"
        kept = em.emit(N.AvgPool, [kept], join(path, "pool"), entry.span, kernel=(3, 3), stride=(stride, stride),
                       padding=em.same_padding(kept, entry.span, 3, stride) if same else (1, 1), count_include_pad=not same)
    return em.concat([kept, *outs] if keep_first else [*outs, kept], join(path, "cat"), entry.span)


def part_conv(row: Row, em: Emitter, x: int, path: str, i: int, stride: int) -> int:
    entry, opts = row.convs[1], row.options
    y = em.conv(x, join(path, f"convs.{i}"), entry.span, entry.channels // opts["scales"], entry.kernel, stride,
                pad=conv_pad(row), groups=opts["groups"], bias=opts["bias"])
    y = norm(em, y, join(path, f"bns.{i}"), entry.span, opts)
    return em.relu(y, join(path, "relu"), entry.span)


BLOCK = BlockType("res2", expand, options(), convs=(3, 3),
                  example="layer1 [3, [[104,1x1],[104,3x3],[256,1x1]]] scales=4")
