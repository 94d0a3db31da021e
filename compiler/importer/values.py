"""The values a statement of an imported spec carries, and how each is written."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Word:
    """A bare word: `bilinear`, `batch`, `true` is a bool instead."""

    text: str


@dataclass(frozen=True)
class Param:
    """A block parameter standing in a template where the instances' values differ."""

    name: str


def write_value(value) -> str:
    """The value as the language writes it: `64`, `0.001`, `3x3`, `true`, a word or a parameter."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Word, Param)):
        return value.text if isinstance(value, Word) else value.name
    if isinstance(value, tuple):
        return "x".join(write_value(v) for v in value)
    if isinstance(value, float):
        return write_float(value)
    return str(value)


def write_float(value: float) -> str:
    """`0.2`, `1e-5`, `1e-3` for 0.001 stays `0.001`: the shortest text that reads back the same."""
    if value == int(value) and abs(value) < 1e9:
        return f"{int(value)}.0"
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def square(value) -> int | tuple[int, ...]:
    """A pair that is the same both ways as one number (`3` for (3, 3)); any other value as it is."""
    if isinstance(value, (tuple, list)):
        value = tuple(value)
        return value[0] if len(set(value)) == 1 else value
    return value


def size(value) -> tuple[int, int]:
    """A kernel or window as a pair: 3 -> (3, 3)."""
    if isinstance(value, (tuple, list)):
        return tuple(value) if len(value) == 2 else (value[0], value[0])
    return (value, value)
