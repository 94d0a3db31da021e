"""The bundled prelude: block types written in the language (archdsl/prelude.arch), which every
spec can use without `use`: `basic` and `bottleneck`, and the helpers they are written with.

A prelude block is a library block in all but two things: its name is taken (a spec cannot define
a block called `bottleneck`), and its body is not the user's text, so the places it reports are
the user's: each statement of an instance is shown at the table entry it reads, or else at the
entry its statement before reads (a conv's norm and activation belong to its entry), or at the
row; a diagnostic at a place in the prelude itself is moved to the use.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache
from pathlib import Path

from archdsl.diagnostics import Diagnostic, Source, Span
from archdsl.semantics.scope import PerStatement
from archdsl.semantics.userblocks import BlockDef, argument_names, read_definition
from archdsl.semantics.values import Evaluator
from archdsl.syntax import tree as T

PATH = Path(__file__).resolve().parent.parent / "prelude.arch"
#: the name the prelude's spans carry: its path, where an editor's go-to-definition opens it
NAME = str(PATH)


@cache
def _lines() -> tuple[str, ...]:
    return tuple(PATH.read_text(encoding="utf-8").split("\n"))


@cache
def _chunks() -> dict[str, tuple[int, int]]:
    """Each block's lines, [first, end) counted from 0: from its `block` line to the next one's
    comments. A spec parses only the blocks it needs (parsing all of them is most of its check)."""
    lines = _lines()
    starts = [i for i, line in enumerate(lines) if line.startswith("block ")]
    ends = [_comments_above(lines, i) for i in starts[1:]] + [len(lines)]
    return {lines[i].split()[1]: (i, end) for i, end in zip(starts, ends)}


def _comments_above(lines: tuple[str, ...], i: int) -> int:
    while i > 0 and lines[i - 1].startswith("#"):
        i -= 1
    return i


@cache
def _definition(name: str) -> BlockDef:
    """Block `name` parsed on its own, its spans at its lines in the whole prelude."""
    from archdsl.syntax.parser import parse

    first, end = _chunks()[name]
    tree, found = parse(Source(NAME, "\n" * first + "\n".join(_lines()[first:end]) + "\n"))
    if tree is None or found or len(tree.statements) != 1:
        raise AssertionError(f"the bundled prelude's `{name}` does not parse: {found[0].message if found else ''}")
    return replace(read_definition(tree.statements[0], Evaluator({}), ()), local=False, bundled=True)


@cache
def _needs(name: str) -> frozenset[str]:
    """`name` and the prelude blocks its body uses, and theirs."""
    first, end = _chunks()[name]
    text = "\n".join(_lines()[first + 1:end])
    found = {other for other in names() if other != name and re.search(rf"\b{other}\b", text)}
    return frozenset({name}.union(*(_needs(other) for other in found)))


def blocks(used=None) -> dict[str, BlockDef]:
    """The prelude's blocks that `used` (names; all where None) need, by name, fresh for one spec
    (a definition records whether it is used)."""
    wanted = names() if used is None else set().union(*(_needs(name) for name in used))
    return {name: replace(_definition(name)) for name in names() if name in wanted}


@cache
def names() -> tuple[str, ...]:
    """The names the prelude's blocks take: no spec may define a block of its own by one of them.
    Read from the text's `block NAME` lines, so that a spec that uses none of them never parses it."""
    return tuple(_chunks())


def used_by(statements, blocks: dict, params: dict) -> set[str]:
    """The prelude blocks that the statements, the bodies of the blocks they can use, or the words
    parameters hold name: only those (and what they need) are read."""
    wanted = set(names())
    found = wanted & {v for v in params.values() if isinstance(v, str)}
    bodies = [statements, *(block.body for block in blocks.values())]
    while bodies:
        for stmt in bodies.pop():
            first = stmt.args[0] if stmt.args and isinstance(stmt.args[0], T.Name) else None
            found |= wanted & {stmt.word, first.name if first is not None else ""}
            bodies.append(stmt.body)
    return found


def block_types() -> dict[str, BlockDef]:
    """The prelude's block types, those whose rows read a stage table (its helpers left out): the
    shared definitions, for what asks after their names and options (a spec's own copies come
    from `blocks`)."""
    return {name: _definition(name) for name in names() if _definition(name).table}


def in_prelude(span: Span | None) -> bool:
    return span is not None and span.source is not None and span.source.name == NAME


def at_use(body: tuple[T.Statement, ...], entries: dict[str, Span], row: Span, blocks) -> tuple[T.Statement, ...]:
    """The statements of a prelude block's body, each spanned where the user wrote what it
    reads: the first table entry (`entries`, name -> span) it reads, else the entry the statement
    before it took; a use of another block (`blocks`), and what follows it, at the row."""
    out, _ = _respan(body, entries, row, row, blocks)
    return out


def _respan(body, entries, row, current, blocks):
    out = []
    for stmt in body:
        if stmt.word in blocks or any(isinstance(a, T.Name) and a.name in blocks for a in stmt.args[:1]):
            current = row
        else:
            read = _argument_names(stmt)
            current = next((span for name, span in entries.items() if name in read), current)
        inner, after = _respan(stmt.body, entries, row, current, blocks)
        if stmt.word in ("if", "elif", "else"):
            current = after
        out.append(T.Statement(stmt.word, current, stmt.args, stmt.options, stmt.inputs, inner, current))
    return tuple(out), current


#: the names each statement of a prelude definition reads: the definitions live as long as the
#: process (`_definition`), and each use of a row respans them
_READS: PerStatement[set[str]] = PerStatement()


def _argument_names(stmt: T.Statement) -> set[str]:
    return _READS.get(stmt, lambda: argument_names(stmt))


def relocated(d: Diagnostic, use: Span) -> Diagnostic:
    """A diagnostic found in a prelude block's instance, with its places in the prelude moved to the use."""
    notes = tuple(n for n in d.notes if not in_prelude(n.span))
    return replace(d, span=use if in_prelude(d.span) else d.span, notes=notes)
