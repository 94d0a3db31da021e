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
from archdsl.semantics.userblocks import BlockDef, read_definition
from archdsl.semantics.values import Evaluator, names_in
from archdsl.syntax import tree as T

PATH = Path(__file__).resolve().parent.parent / "prelude.arch"
#: the name the prelude's spans carry: its path, where an editor's go-to-definition opens it
NAME = str(PATH)


@cache
def _definitions() -> tuple[BlockDef, ...]:
    return _read(PATH.read_text(encoding="utf-8"))


def _read(text: str) -> tuple[BlockDef, ...]:
    from archdsl.syntax.parser import parse

    tree, found = parse(Source(NAME, text))
    if tree is None or found:
        raise AssertionError(f"the bundled prelude does not parse: {found[0].message if found else ''}")
    ev = Evaluator({})
    return tuple(replace(read_definition(stmt, ev, ()), local=False, bundled=True) for stmt in tree.statements)


def blocks() -> dict[str, BlockDef]:
    """The prelude's blocks by name, fresh for one spec (a definition records whether it is used)."""
    return {block.name: replace(block) for block in _definitions()}


@cache
def names() -> tuple[str, ...]:
    """The names the prelude's blocks take: no spec may define a block of its own by one of them.
    Read from the text's `block NAME` lines, so that a spec that uses none of them never parses it."""
    return tuple(re.findall(r"^block (\w+)", PATH.read_text(encoding="utf-8"), re.M))


def used_by(statements, blocks: dict, params: dict) -> bool:
    """Whether the statements, the bodies of the blocks they can use, or a word a parameter holds
    name a prelude block: only then is the prelude read."""
    wanted = set(names())
    if wanted & {v for v in params.values() if isinstance(v, str)}:
        return True
    bodies = [statements, *(block.body for block in blocks.values())]
    while bodies:
        for stmt in bodies.pop():
            first = stmt.args[0] if stmt.args and isinstance(stmt.args[0], T.Name) else None
            if stmt.word in wanted or (first is not None and first.name in wanted):
                return True
            bodies.append(stmt.body)
    return False


def block_types() -> dict[str, BlockDef]:
    """The prelude's block types, those whose rows read a stage table (its helpers left out)."""
    return {block.name: block for block in _definitions() if block.table}


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
            read = _names_read_here(stmt)
            current = next((span for name, span in entries.items() if name in read), current)
        inner, after = _respan(stmt.body, entries, row, current, blocks)
        if stmt.word in ("if", "elif", "else"):
            current = after
        out.append(replace(stmt, span=current, word_span=current, body=inner))
    return tuple(out), current


def _names_read_here(stmt: T.Statement) -> set[str]:
    found: set[str] = set()
    for arg in stmt.args:
        found |= names_in(arg) if not isinstance(arg, T.Stride) else set()
    for option in stmt.options:
        found |= names_in(option.value)
    return found


def relocated(d: Diagnostic, use: Span) -> Diagnostic:
    """A diagnostic found in a prelude block's instance, with its places in the prelude moved to the use."""
    notes = tuple(n for n in d.notes if not in_prelude(n.span))
    return replace(d, span=use if in_prelude(d.span) else d.span, notes=notes)
