"""The syntax tree: frozen dataclasses that carry their source spans.

Nothing past the parser sees lark; the semantics works on these values only. The values the
parser makes most (names, whole numbers, options, statements) set their fields at once
(`set_fields`, archdsl.diagnostics).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from archdsl.diagnostics import Source, Span, set_fields


@dataclass(frozen=True, init=False)
class Int:
    value: int
    span: Span

    def __init__(self, value: int, span: Span):
        set_fields(self, "__dict__", {"value": value, "span": span})


@dataclass(frozen=True)
class Float:
    value: float
    span: Span


@dataclass(frozen=True)
class Str:
    """A quoted text, without its quotes: an axis pattern like `c h w -> (h w) c`."""

    value: str
    span: Span


@dataclass(frozen=True, init=False)
class Name:
    name: str
    span: Span

    def __init__(self, name: str, span: Span):
        set_fields(self, "__dict__", {"name": name, "span": span})


@dataclass(frozen=True)
class BinOp:
    """An arithmetic, comparison or logical operation; `op` is add, sub, mul, floordiv, mod, and, or,
    or a comparison written as itself (==, !=, <, <=, >, >=)."""

    op: str
    left: "Value"
    right: "Value"
    span: Span


@dataclass(frozen=True)
class Not:
    """`not value`."""

    operand: "Value"
    span: Span


@dataclass(frozen=True)
class Call:
    """`round(x)`, `max(a, b)`: a built-in function applied to values."""

    function: str
    args: tuple["Value", ...]
    span: Span
    function_span: Span


@dataclass(frozen=True)
class Dims:
    """`3x3`, `3x224x224`: sizes joined by x."""

    values: tuple[int, ...]
    span: Span


@dataclass(frozen=True)
class ListValue:
    items: tuple["Value", ...]
    span: Span


@dataclass(frozen=True)
class TupleValue:
    items: tuple["Value", ...]
    span: Span


@dataclass(frozen=True)
class Stride:
    """`/2` after a layer: its stride."""

    value: int
    span: Span


Value = Union[Int, Float, Str, Name, BinOp, Not, Call, Dims, ListValue, TupleValue]


@dataclass(frozen=True, init=False)
class Option:
    """`name=value`."""

    name: str
    name_span: Span
    value: Value
    span: Span

    def __init__(self, name: str, name_span: Span, value: Value, span: Span):
        set_fields(self, "__dict__", {"name": name, "name_span": name_span, "value": value, "span": span})


@dataclass(frozen=True, init=False)
class Statement:
    """One line of a spec: `word args... [from a, b]`, with an optional indented body."""

    word: str
    word_span: Span
    args: tuple[Union[Value, Stride], ...]
    options: tuple[Option, ...]
    inputs: tuple[Name, ...]
    body: tuple["Statement", ...]
    span: Span

    def __init__(self, word: str, word_span: Span, args: tuple, options: tuple[Option, ...], inputs: tuple[Name, ...],
                 body: tuple["Statement", ...], span: Span):
        set_fields(self, "__dict__", {"word": word, "word_span": word_span, "args": args, "options": options,
                                      "inputs": inputs, "body": body, "span": span})

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)


@dataclass(frozen=True)
class Spec:
    source: Source
    statements: tuple[Statement, ...]
