"""Colours by op kind and block type, shared by the DOT and Mermaid writers."""

from __future__ import annotations

import zlib

from archdsl.ir.nodes import NODE_TYPES

#: op -> the family it is coloured as (and named in the legend): each op's FAMILY (archdsl.ir.ops)
FAMILY = {op: cls.FAMILY for op, cls in NODE_TYPES.items() if cls.FAMILY is not None}
FAMILY["endpoint"] = "endpoint"

#: family or block type -> (fill, border)
COLOURS = {
    "conv": ("#d6e6fb", "#3f6fb0"),
    "norm": ("#dcf1e1", "#3f8a57"),
    "activation": ("#fff0c2", "#b8860b"),
    "pool": ("#eadff7", "#7b52ab"),
    "linear": ("#fcdcd3", "#b5523b"),
    "merge": ("#ececec", "#666666"),
    "reshape": ("#f6f6f6", "#999999"),
    "endpoint": ("#ffffff", "#333333"),
    "bottleneck": ("#bcd3f2", "#2f5f9e"),
    "basic": ("#f8d9b8", "#b0651c"),
    "dense": ("#f4cedb", "#a8446f"),
    "transition": ("#e6e4c3", "#7d7a2e"),
    "res2": ("#c2e8e4", "#2b7f7f"),
    "residual": ("#d9e4f0", "#4a6785"),
}

#: for block types not listed above: picked by a stable hash of the name
SPARE = [("#f9d9e6", "#a8446f"), ("#e0f2c8", "#5a8a1f"), ("#d9eef9", "#2d7aa6"), ("#fbe9d0", "#a86a1c"),
         ("#e4e0f7", "#5648a3"), ("#d7f2e9", "#2a8066")]

#: legend order of op families
LEGEND = ("conv", "norm", "activation", "pool", "linear", "merge", "reshape")


def family(key: str) -> str:
    """The colour family of an op name, or the key itself for a block type."""
    return FAMILY.get(key, key)


def colours(key: str) -> tuple[str, str]:
    """(fill, border) for an op name or block type."""
    name = family(key)
    if name in COLOURS:
        return COLOURS[name]
    return SPARE[zlib.crc32(name.encode()) % len(SPARE)]


def css_class(key: str) -> str:
    """A class name safe for Mermaid's classDef."""
    return "k_" + "".join(ch if ch.isalnum() else "_" for ch in family(key))
