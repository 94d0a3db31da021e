"""`se=R`: squeeze-and-excitation (Hu et al. 2018) on a residual branch, as timm lays it out.

The branch's output x (C channels) is pooled to Cx1x1, squeezed by a 1x1 conv to
C // R channels (`se.fc1`, with bias), passed through relu, expanded back to C
(`se.fc2`, with bias) and a sigmoid; the result gates x channel by channel.
`se=0` (the default) means no SE module.
"""

from __future__ import annotations

import math

from archdsl.ir import nodes as N
from archdsl.semantics.blocks import Option, Row, int_option
from archdsl.semantics.emit import Emitter, join
from archdsl.semantics.values import invalid


def se_option() -> Option:
    return int_option(0, minimum=0, help="squeeze-and-excitation with this channel reduction (0: none)")


def reduced_channels(channels: int, reduction: int) -> int:
    """The squeezed width: C // R, as the seeds' SEModule and timm (for these widths) compute it."""
    return channels // reduction


def check_reduction(row: Row, channels: int) -> None:
    """E0322 before anything is built: the reduction must leave at least one channel."""
    reduction = row.options["se"]
    if reduction and reduced_channels(channels, reduction) < 1:
        raise invalid("E0322", f"se={reduction} leaves no channels: the block ends with {channels} "
                      f"(and {channels} // {reduction} = 0)", row.convs[-1].span,
                      f"{channels} channels squeezed by {reduction}",
                      f"use a reduction of at most {channels}, e.g. se={_largest_divisor(channels, reduction)}")


def _largest_divisor(channels: int, limit: int) -> int:
    """The largest divisor of `channels` up to `limit`, found among the pairs (d, channels // d)
    with d up to the square root: a few thousand steps even for a billion channels."""
    small = [d for d in range(1, math.isqrt(channels) + 1) if channels % d == 0]
    return max(d for d in small + [channels // d for d in small] if d <= limit)


def squeeze_excite(em: Emitter, x: int, path: str, span, reduction: int) -> int:
    """x * sigmoid(fc2(relu(fc1(pool(x))))) with the module paths `path.fc1` and `path.fc2`."""
    t = em.type_of(x)
    if t is None:
        return x
    with em.frame("scope", path, "squeeze_excite"):
        gate = em.emit(N.GlobalAvgPool, [x], join(path, "pool"), span)
        gate = em.conv(gate, join(path, "fc1"), span, reduced_channels(t.channels, reduction), 1, bias=True)
        gate = em.relu(gate, join(path, "relu"), span)
        gate = em.conv(gate, join(path, "fc2"), span, t.channels, 1, bias=True)
        gate = em.emit(N.Sigmoid, [gate], join(path, "gate"), span)
        return em.emit(N.Mul, [x, gate], join(path, "scale"), span)
