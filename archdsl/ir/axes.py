"""Axis patterns in einops notation: `c (h p1) (w p2) -> (h w) (p1 p2 c)`.

A pattern names the input's axes on the left and the output's on the right; a group in
brackets is one axis made of several, `1` (or `()`) an axis of size 1. An output group may be
given a name of its own, `n=(h w)`, and so may a unit axis, `h=()` (extensions of einops'
notation); otherwise it is named by its names joined (`(h w)` is `hw`, `()` is `1`). `bind`
checks a pattern against an input type and the sizes given for some names, and works out the
output's sizes, its axis names and the reshape, permutation and reshape that carry it out.
Everything here is plain Python: the checker and every back end read the same plan.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

_TOKEN = re.compile(r"\s*(?:(?P<label>[A-Za-z_][A-Za-z0-9_]*)=|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<one>1)|"
                    r"(?P<open>\()|(?P<close>\))|(?P<bad>[^\s()]+))")


class PatternError(ValueError):
    """What is wrong with a pattern: a message, where in the text (offset, width) and a hint."""

    def __init__(self, message: str, offset: int = 0, width: int = 0, help: str = ""):
        super().__init__(message)
        self.message, self.offset, self.width, self.help = message, offset, width, help


@dataclass(frozen=True)
class Group:
    """One axis of a side: the elementary names it is made of, () for a unit axis."""

    names: tuple[str, ...]
    offset: int
    text: str
    label: str | None = None

    @property
    def name(self) -> str:
        return self.label or "".join(self.names) or "1"


@dataclass(frozen=True)
class Side:
    groups: tuple[Group, ...]

    @cached_property
    def names(self) -> list[str]:
        return [n for g in self.groups for n in g.names]


@dataclass(frozen=True)
class Pattern:
    text: str
    left: Side
    right: Side


def parse_side(text: str, start: int = 0, labels: bool = False) -> Side:
    """The groups of one side of a pattern (`start`: its offset in the whole pattern); `labels`:
    whether a group may be named (`n=(h w)`, the output side)."""
    groups, inner, opened, label, just_labelled = [], None, 0, None, False
    for match in _TOKEN.finditer(text):
        if not match.group().strip():
            continue
        kind, offset = match.lastgroup, start + match.start(match.lastgroup)
        token = match.group(kind)
        if kind == "label":
            if not labels or inner is not None or label is not None:
                raise PatternError(f"`{token}=` names an output axis, and only there", offset, len(token) + 1,
                                   "name an axis of the output like n=(h w), before its group")
            label, just_labelled = token, True
            continue
        if just_labelled and kind not in ("open", "name"):
            raise PatternError(f"`{label}=` must be followed by an axis or a group", offset, max(len(token), 1),
                               "write it like n=(h w)")
        just_labelled = False
        if kind == "bad":
            raise PatternError(f"`{token}` is not an axis name", offset, len(token),
                               "axis names are words (h, w, p1); `(h w)` joins axes, `1` is an axis of size 1")
        if kind == "open":
            if inner is not None:
                raise PatternError("brackets cannot nest in a pattern", offset, 1, "write `(a b c)` as one group")
            inner, opened = [], offset
        elif kind == "close":
            if inner is None:
                raise PatternError("`)` closes no group", offset, 1, "groups are written `(h w)`")
            groups.append(Group(tuple(inner), opened, text[opened - start:offset - start + 1], label))
            inner, label = None, None
        elif inner is not None:
            if kind == "one":
                raise PatternError("`1` inside a group adds nothing", offset, 1, "leave it out of the group")
            inner.append(token)
        else:
            groups.append(Group(() if kind == "one" else (token,), offset, token, label))
            label = None
    if inner is not None:
        raise PatternError("unclosed `(`", opened, 1, "close the group with `)`")
    if label is not None:
        raise PatternError(f"`{label}=` names no axis", len(text) + start, 0, "write it like n=(h w)")
    side = Side(tuple(groups))
    seen: set[str] = set()
    for group in side.groups:
        for name in group.names:
            if name in seen:
                raise PatternError(f"axis `{name}` appears twice on one side", group.offset, len(group.text),
                                   "each axis is named once on each side")
            seen.add(name)
    return side


@lru_cache(maxsize=256)
def parse(text: str, same_names: bool = True) -> Pattern:
    """`left -> right`; with `same_names` (rearrange) both sides must name the same axes, else
    (reduce) the right names some of the left's, and the others are reduced. A pattern is parsed
    once (the result is immutable): a transformer's blocks repeat the same few."""
    if text.count("->") != 1:
        raise PatternError("a pattern has one `->` between the input's axes and the output's", 0, len(text),
                           'write it like "c (h p1) (w p2) -> (h w) (p1 p2 c)"')
    arrow = text.index("->")
    left, right = parse_side(text[:arrow]), parse_side(text[arrow + 2:], arrow + 2, labels=True)
    extra = [n for n in right.names if n not in left.names]
    if extra:
        raise PatternError(f"`{extra[0]}` is on the right but not on the left", arrow + 2, len(text) - arrow - 2,
                           "an output axis is made of the input's axes")
    missing = [n for n in left.names if n not in right.names]
    if same_names and missing:
        raise PatternError(f"`{missing[0]}` is on the left but not on the right", 0, arrow,
                           "a rearrange keeps every axis; to reduce one, use `reduce`")
    return Pattern(text, left, right)


@dataclass(frozen=True)
class Plan:
    """What a bound pattern does to one sample: reshape the input to `split` (its elementary axes),
    permute them to `order`, reshape to `shape`; `axes` names the output's axes."""

    split: tuple[int, ...]
    order: tuple[int, ...]
    shape: tuple[int, ...]
    axes: tuple[str, ...]
    #: positions in `split` that are reduced away (reduce only), in the input's order
    reduced: tuple[int, ...] = ()


def strip_batch(pattern: Pattern, rank: int) -> Pattern:
    """A pattern that spells the batch axis (`b c h w -> b (h w) c`) without it."""
    first = (pattern.left.groups[:1], pattern.right.groups[:1])
    if len(pattern.left.groups) == rank + 1 and all(g and g[0].names == ("b",) for g in first):
        return Pattern(pattern.text, Side(pattern.left.groups[1:]), Side(pattern.right.groups[1:]))
    return pattern


@lru_cache(maxsize=4096)
def planned(text: str, same_names: bool, shape: tuple[int, ...], sizes: tuple[tuple[str, int], ...]) -> Plan:
    """`bind(parse(text, same_names), shape, dict(sizes))`, worked out once per process for each
    question (the result is immutable; a transformer's units ask the same few). PatternError is
    raised again each time, as bind raises it."""
    return bind(parse(text, same_names), shape, dict(sizes))


def bind(pattern: Pattern, shape: tuple[int, ...], sizes: dict[str, int]) -> Plan:
    """The plan of `pattern` on an input of `shape`, with `sizes` given for some names."""
    pattern = strip_batch(pattern, len(shape))
    left = pattern.left.groups
    if len(left) != len(shape):
        raise PatternError(f"the left side names {len(left)} axes, but the input has {len(shape)} "
                           f"({'x'.join(map(str, shape))})", 0, pattern.text.index("->"),
                           "name each of the input's axes once, in order")
    unused = [n for n in sizes if n not in pattern.left.names]
    if unused:
        raise PatternError(f"`{unused[0]}` is given a size but is not in the pattern", 0, 0,
                           "give sizes only to the pattern's axes")
    known = dict(sizes)
    for group, size in zip(left, shape):
        _bind_group(group, size, known)
    split = tuple(known[n] for n in pattern.left.names)
    order = tuple(pattern.left.names.index(n) for n in pattern.right.names)
    out = tuple(math.prod(known[n] for n in g.names) for g in pattern.right.groups)
    reduced = tuple(i for i, n in enumerate(pattern.left.names) if n not in pattern.right.names)
    return Plan(split, order, out, _axis_names(pattern.right), reduced)


def _bind_group(group: Group, size: int, known: dict[str, int]) -> None:
    unknown = [n for n in group.names if n not in known]
    product = math.prod(known[n] for n in group.names if n in known)
    if len(unknown) > 1:
        raise PatternError(f"{group.text}: cannot tell {', '.join(unknown)} apart", group.offset, len(group.text),
                           f"give all but one a size, e.g. {unknown[-1]}=...")
    if unknown:
        if size % product:
            below = size // product * product
            raise PatternError(f"{group.text}: the axis has {size}, not divisible by {product}", group.offset,
                               len(group.text), f"the input's size must be a multiple of {product}; "
                               f"nearest: {', '.join(str(v) for v in (below, below + product) if v > 0)}")
        known[unknown[0]] = size // product
    elif product != size:
        made = " * ".join(str(known[n]) for n in group.names) or "1"
        raise PatternError(f"{group.text}: {made} = {product}, but the axis has {size}", group.offset,
                           len(group.text), "the sizes given must multiply out to the input's")


def _axis_names(side: Side) -> tuple[str, ...]:
    names, units = [], 0
    for group in side.groups:
        if group.names or group.label:  # a named unit axis keeps its name: `c=()`
            names.append(group.name)
        else:
            units += 1
            names.append("1" if units == 1 else f"1_{units}")
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise PatternError(f"two output axes would both be named `{twice}`", 0, 0,
                           "order the names in a group differently")
    return tuple(names)
