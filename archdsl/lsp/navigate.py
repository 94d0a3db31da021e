"""Finding things in a spec's syntax tree: the statement under the cursor, the name under it, and
where a name is defined (values, parameters, `let`, blocks here and in `use`d libraries)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archdsl.diagnostics import Span
from archdsl.lsp.document import contains
from archdsl.lsp.vocabulary import language_words
from archdsl.semantics.builder import SECTIONS as BUILDER_SECTIONS
from archdsl.syntax import tree as T

#: sections that group statements without a scope of their own: their names stay visible around them
SECTIONS = (*BUILDER_SECTIONS, "stages")


def words() -> tuple[str, ...]:
    """Layer types, built-in block types and structure words: what a statement's type can be."""
    from archdsl.semantics import prelude
    from archdsl.semantics.blocks import registry
    from archdsl.semantics.builder import STRUCTURE
    from archdsl.semantics.ops import OPS

    return (*OPS, *prelude.block_types(), *registry(), *STRUCTURE, "split")


def walk(statements):
    """Every statement, depth first, in source order."""
    for stmt in statements:
        yield stmt
        yield from walk(stmt.body)


def head_spans(stmt: T.Statement):
    """The spans of a statement's own line (or lines, where brackets run on): not its body's."""
    yield stmt.span
    yield stmt.word_span
    for arg in stmt.args:
        yield arg.span
    for option in stmt.options:
        yield option.span
    for ref in stmt.inputs:
        yield ref.span


def on_head(stmt: T.Statement, line: int, col: int) -> bool:
    spans = list(head_spans(stmt))
    first = min((s.line, s.col) for s in spans)
    last = max((s.end_line, s.end_col) for s in spans)
    if first[0] <= line <= last[0] and first[0] == last[0]:
        return True  # anywhere on a one-line statement's line
    return first <= (line, col) <= last


def path_at(statements, line: int, col: int) -> list[T.Statement]:
    """The statements enclosing 1-based `line`:`col`, outermost first (empty off every statement)."""
    for stmt in statements:
        if on_head(stmt, line, col):
            return [stmt]
        inner = path_at(stmt.body, line, col)
        if inner:
            return [stmt, *inner]
    return []


def values_in(value):
    """Every Name inside a value (an expression, a list, a call's arguments)."""
    if isinstance(value, T.Name):
        yield value
    elif isinstance(value, T.BinOp):
        yield from values_in(value.left)
        yield from values_in(value.right)
    elif isinstance(value, T.Not):
        yield from values_in(value.operand)
    elif isinstance(value, T.Call):
        for arg in value.args:
            yield from values_in(arg)
    elif isinstance(value, (T.ListValue, T.TupleValue)):
        for item in value.items:
            yield from values_in(item)


@dataclass(frozen=True)
class Word:
    """The name under the cursor and what kind of place it stands in."""

    name: str
    span: Span
    #: `from` (a value of the scope), `type` (a statement's layer or block type), `value` (an
    #: argument or an option's value), `option` (an option's name), `use` (a library's name)
    role: str


def word_at(stmt: T.Statement, line: int, col: int, blocks) -> Word | None:
    """The name at `line`:`col` on `stmt`'s line; `blocks` are the user blocks' names in scope."""
    for ref in stmt.inputs:
        if contains(ref.span, line, col):
            return Word(ref.name.split(".", 1)[0], ref.span, "from")
    if stmt.word == "use":
        first = stmt.args[0] if stmt.args and isinstance(stmt.args[0], T.Name) else None
        return Word(first.name, first.span, "use") if first and contains(first.span, line, col) else None
    if contains(stmt.word_span, line, col):
        return Word(stmt.word, stmt.word_span, "type")
    for index, arg in enumerate(stmt.args):
        if isinstance(arg, T.Stride):
            continue
        for name in values_in(arg):
            if contains(name.span, line, col):
                typed = index == 0 and isinstance(arg, T.Name) and (arg.name in blocks or arg.name in words())
                return Word(name.name.split(".", 1)[0], name.span, "type" if typed else "value")
    for option in stmt.options:
        if contains(option.name_span, line, col):
            role = "value" if stmt.word in ("let", "param") else "option"
            return Word(option.name, option.name_span, role)
        for name in values_in(option.value):
            if contains(name.span, line, col):
                return Word(name.name.split(".", 1)[0], name.span, "value")
    return None


def statement_name(stmt: T.Statement, known) -> T.Name | None:
    """The name a statement defines in its scope (`conv1` in `conv1 conv 64 7x7`, `features` in
    `scope features`, a stage row's name), with its span; None for an unnamed one."""
    if stmt.word in ("scope", "residual", "concat") and stmt.args and isinstance(stmt.args[0], T.Name):
        return stmt.args[0]
    if stmt.word in known or stmt.word in language_words()["keyword"] or stmt.word.isdigit():
        return None
    return T.Name(stmt.word, stmt.word_span)


def defined_before(statements, stop: T.Statement | None, known):
    """(kind, name, span) for what `statements` define before `stop` (all of them without one): values
    (named statements, looking into sections and the branches of `if`), `let` and `param` names."""
    for stmt in statements:
        if stmt is stop:
            return
        if stmt.word in ("let", "param"):
            for option in stmt.options:
                yield "value", option.name, option.name_span
            continue
        if stmt.word == "block":
            continue
        name = statement_name(stmt, known)
        if name is not None:
            yield "layer", name.name, name.span
        if stmt.word in SECTIONS or stmt.word in ("if", "elif", "else"):
            yield from defined_before(stmt.body, stop, known)


def definition_of(word: Word, chain: list[T.Statement], top, known) -> Span | None:
    """Where `word` (read on the innermost statement of `chain`) is defined among the statements
    around it, innermost scope first: earlier siblings, then an enclosing block's parameters, then
    the spec's top level (`param`, `input`)."""
    levels = [top] + [stmt.body for stmt in chain[:-1]]
    stops = list(chain)
    kinds = ("layer",) if word.role == "from" else ("value", "layer")
    for index in range(len(levels) - 1, -1, -1):
        found = None
        for kind, name, span in defined_before(levels[index], stops[index], known):
            if name == word.name and kind in kinds:
                found = span
        if found is not None:
            return found
        owner = chain[index - 1] if index > 0 else None
        if owner is not None and owner.word == "block":
            for param in _block_params(owner):
                if param.name == word.name:
                    return param.span
    if word.name == "input":
        enclosing = next((stmt for stmt in chain if stmt.word == "block"), None)
        if enclosing is not None:
            return enclosing.word_span
        return next((stmt.span for stmt in top if stmt.word == "input"), None)
    return None


def parameter_of(stmt: T.Statement, option: str, blocks: dict[str, T.Statement]) -> Span | None:
    """Where the block that `stmt` uses declares its parameter `option` (`expand` in `mbconv 24 expand=6`)."""
    from archdsl.semantics.builder import split_name

    op = split_name(stmt, (*words(), *blocks))[1]
    block = blocks.get(op.name) if op is not None else None
    return next((p.span for p in _block_params(block) if p.name == option), None) if block else None


def _block_params(block: T.Statement):
    for arg in block.args[1:]:
        if isinstance(arg, T.Name):
            yield arg
    for option in block.options:
        yield T.Name(option.name, option.name_span)


# --- blocks and libraries -----------------------------------------------------


def library_file(name: str, folder: Path | None) -> Path | None:
    """The file `use NAME` reads: beside the spec, else the bundled library of that name."""
    from archdsl.zoo import bundled_folder

    for place in ([folder] if folder else []) + [bundled_folder()]:
        path = place / f"{name}.arch"
        if path.is_file():
            return path
    return None


class Libraries:
    """Block definitions read from library files, each parsed once per change of its modification time."""

    def __init__(self):
        self._cache: dict[Path, tuple[float, T.Spec | None]] = {}

    def tree(self, path: Path) -> T.Spec | None:
        from archdsl.sources import read_file
        from archdsl.syntax.parser import parse

        try:
            stamp = path.stat().st_mtime
        except OSError:
            return None
        cached = self._cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        source, _ = read_file(path)
        tree = parse(source)[0] if source is not None else None
        self._cache[path] = (stamp, tree)
        return tree

    def blocks(self, statements, folder: Path | None, seen: set | None = None) -> dict[str, T.Statement]:
        """Every `block` statement visible from `statements`: their own, then those of the libraries
        they `use` (and those use), first definition winning; by block name."""
        seen = set() if seen is None else seen
        found: dict[str, T.Statement] = {}
        for stmt in statements:
            name = stmt.args[0] if stmt.args and isinstance(stmt.args[0], T.Name) else None
            if stmt.word == "block" and name is not None:
                found.setdefault(name.name, stmt)
            elif stmt.word == "use" and name is not None:
                path = library_file(name.name, folder)
                if path is None or path.resolve() in seen:
                    continue
                seen.add(path.resolve())
                tree = self.tree(path)
                if tree is not None:
                    for key, block in self.blocks(tree.statements, path.parent, seen).items():
                        found.setdefault(key, block)
        return found
