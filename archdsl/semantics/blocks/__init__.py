"""Block types: each turns one stage row into IR nodes. One module per type.

A stage row reads `name [repeat, [[channels, kernel], ...]] [/stride] [options]`;
table-less blocks (a DenseNet transition) read `name type [options]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from archdsl.diagnostics import Span
from archdsl.ir import nodes as N
from archdsl.semantics.emit import Emitter
from archdsl.semantics.values import Evaluator


@dataclass(frozen=True)
class ConvEntry:
    """One `[channels, kernel]` entry of a stage table."""

    channels: int
    kernel: tuple[int, int]
    span: Span


@dataclass(frozen=True)
class Row:
    """One evaluated stage row, ready for a block type to expand."""

    name: str
    path: str
    repeat: int
    convs: tuple[ConvEntry, ...]
    stride: int
    options: dict[str, object]
    span: Span
    #: where each option that was written is written: on the row, or on its `stages` line
    option_spans: dict[str, Span] = field(default_factory=dict)

    def option_span(self, name: str) -> Span:
        """Where option `name` is written, or the row where it is not (a default value)."""
        return self.option_spans.get(name, self.span)

    def inherits(self, name: str) -> bool:
        """Whether option `name` comes from the `stages` line rather than the row itself."""
        where = self.option_spans.get(name)
        return where is not None and not (self.span.line <= where.line <= self.span.end_line)


@dataclass(frozen=True)
class Option:
    """An option a block type accepts: how to read it, and its default."""

    read: Callable[[Evaluator, object, str], object]
    default: object
    help: str = ""
    #: the words it takes, where it takes words (what an editor offers to complete)
    words: tuple[str, ...] = ()


def int_option(default: int, minimum: int = 1, help: str = "", maximum: int | None = None) -> Option:
    return Option(lambda ev, v, name: ev.int_(v, name, minimum, maximum), default, help)


def bool_option(default: bool, help: str = "") -> Option:
    return Option(lambda ev, v, name: ev.bool_(v, name), default, help, ("true", "false"))


def float_option(default: float, help: str = "") -> Option:
    return Option(lambda ev, v, name: ev.float_(v, name), default, help)


def choice_option(choices: tuple[str, ...], default: str, help: str = "") -> Option:
    return Option(lambda ev, v, name: ev.choice(v, name, choices), default, help, tuple(choices))


def norm_options() -> dict[str, Option]:
    """The options of a block's norms; `default bn eps=... momentum=...` reaches them too."""
    return {"norm": choice_option(NORMS, "bn", "the norm layer: batch norm (bn), or torchvision's frozen batch norm "
                                  "(frozen_bn: fixed statistics and affine values, buffers only)"),
            "eps": float_option(1e-5, "norm epsilon"),
            "momentum": float_option(0.1, "norm momentum, PyTorch's sense (Keras's momentum=0.99 is 0.01)")}


#: the norms a block's `norm=` option chooses from
NORMS = ("bn", "frozen_bn")


def norm(em: Emitter, x: int, path: str, span: Span, options: dict) -> int:
    """A block's norm (the row's `norm=`: batch norm, or frozen batch norm), with the row's eps and momentum."""
    if options.get("norm") == "frozen_bn":
        return em.emit(N.FrozenBatchNorm, [x], path, span, eps=options["eps"])
    return em.bn(x, path, span, options["eps"], options["momentum"])


@dataclass(frozen=True)
class BlockType:
    name: str
    expand: Callable[[Row, Emitter, int], int]
    options: dict[str, Option] = field(default_factory=dict)
    #: rows of this type carry a [repeat, [[channels, kernel], ...]] table
    table: bool = True
    #: how many [channels, kernel] entries a row must list (None: any number)
    convs: tuple[int, int] | None = None
    example: str = ""


def registry() -> dict[str, BlockType]:
    """Every block type, by name."""
    from archdsl.semantics.blocks import dense, res2

    types = [res2.BLOCK, dense.BLOCK, dense.TRANSITION]
    return {t.name: t for t in types}
