"""Blocks defined in the language: `block NAME params...` with an indented body, and `use LIBRARY`.

A definition is read once (its parameters and their defaults); each use instantiates its body
like a sequence of statements under the instance's module path (see instances.py). A library
is another spec file beside the spec, holding only definitions: `use mobile_blocks` reads
`mobile_blocks.arch` from the spec's own folder. A library's name is a plain name, so it can
name no other folder, no absolute path and no way out of the spec's folder; a library file that
is a link leading out of the folder is refused by archdsl.sources (E0222) without being read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from archdsl.diagnostics import Diagnostic, Label, Span, error, warning
from archdsl.semantics.control import CONDITIONS, SECTIONS
from archdsl.semantics.reserved import why_reserved
from archdsl.semantics.values import Evaluator, Invalid, invalid, names_in, show
from archdsl.sources import read_file  # the one reader of spec files: kind, size, encoding, folder
from archdsl.syntax import tree as T

#: options a use takes besides the block's parameters: a row of `repeat` units, and how they are named;
#: `shared`: one instance applied to each value `from` lists
ROW_OPTIONS = ("repeat", "names", "shared")
#: `here`: one instance whose layers take their own names in the scope of its use, as if written there
NAMINGS = ("nested", "flat", "prefixed", "inline", "here")
#: names a block's body can read besides its parameters: its unit's place in its row and its stages
UNIT_NAMES = ("unit", "units", "stage_unit", "stage_units")
#: the most library files one spec may read, in all
MAX_LIBRARIES = 16
#: statements a library may hold
LIBRARY_WORDS = ("block", "use")
#: words that name a scope of their own (`scope NAME`)
NAMED_STRUCTURES = ("scope", "residual", "concat", "stages")
_REQUIRED = object()


@dataclass(frozen=True)
class Param:
    name: str
    default: object
    span: Span
    #: the words it takes, where its default is written as a list of them: `shortcut=(auto, proj)`
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


@dataclass(frozen=True)
class TableEntry:
    """One `[channels, kernel]` of a table block's pattern: the names its row's entry binds."""

    channels: str
    kernel: str
    span: Span


@dataclass
class BlockDef:
    """One block definition: its parameters in order, its body, and where it is written."""

    name: str
    params: tuple[Param, ...]
    body: tuple[T.Statement, ...]
    span: Span
    name_span: Span
    #: written in the spec itself (not in a library it uses): an unused one is worth a warning
    local: bool = True
    used: bool = field(default=False, compare=False)
    #: its definition has an error already reported (a name meaning two things): uses say nothing more
    broken: bool = field(default=False, compare=False)
    #: a table block's pattern, `[[width, k1], [mid, k2], [out, k3]]`: its rows read a stage table
    table: tuple[TableEntry, ...] = ()
    #: from the bundled prelude: its body is not the user's text, so what it finds is shown at the use
    bundled: bool = False

    def example(self) -> str:
        """How a row of this table block reads, for a help line."""
        return f"layer1 {self.name} [2, [" + ",".join("[64,3x3]" for _ in self.table) + "]]"

    def row_options(self) -> list[str]:
        """What a table row may write as options: the parameters but the stride (its `/N`) and the
        dilation (set by `dilate=true`, which it takes where the block has a `dilation`)."""
        names = [p.name for p in self.params if p.name not in ("stride", "dilation")]
        return names + ["dilate"] * (self.param("dilation") is not None)

    @cached_property
    def value_params(self) -> set[str]:
        """The parameters the body reads with `from`: each takes a value of the use's scope (a
        U-Net's skip connection), not a number or a word."""
        return {p.name for p in self.params} & _names_after_from(self.body)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def usage(self) -> str:
        """`inverted_residual out [expand=6] [stride=1]`: how a use is written."""
        parts = [p.name if p.required else f"[{p.name}={show(p.default)}]" for p in self.params]
        if self.table:
            parts.insert(0, "[repeat, [" + ", ".join(f"[{e.channels}, {e.kernel}]" for e in self.table) + "]]")
        return " ".join([self.name, *parts])


@dataclass(frozen=True)
class BlockLibrary:
    """A block library checked on its own: a file of `block` definitions and `use` lines, with no
    network to build. `blocks` are its own definitions in order, `uses` the libraries it reads."""

    name: str
    blocks: tuple[BlockDef, ...]
    uses: tuple[str, ...]


def is_library(statements) -> bool:
    """Whether top-level `statements` make a block library: some, and every one a `block` or a `use`."""
    return bool(statements) and all(stmt.word in LIBRARY_WORDS for stmt in statements)


def read_definition(stmt: T.Statement, ev: Evaluator, taken) -> BlockDef:
    """The definition a `block` statement writes; `taken` holds the words a block cannot be named
    (a dict: with why, where it says more than that the word is taken)."""
    if not stmt.args or not isinstance(stmt.args[0], T.Name):
        raise invalid("E0206", "`block` needs a name", stmt.span, "expected `block NAME params...`",
                      "write it like `block inverted_residual out expand=6 stride=1`, with its body indented")
    head, *rest = stmt.args
    name = head.name
    reason = why_reserved(name) or (taken.get(name) if isinstance(taken, dict) else None) or (
        f"`{name}` is already a layer type or a word of the language" if name in taken else None)
    if reason is not None or "." in name:
        raise invalid("E0213", f"`{name}` cannot name a block", head.span, "reserved name",
                      f"{reason or 'a block name has no dots'}; choose another, like `{name.split('.')[0]}_block`")
    if stmt.inputs:
        raise invalid("E0206", "a block definition takes no `from`", stmt.inputs[0].span, "unexpected",
                      "a block starts from the value its use gives it; `from` goes on the use")
    if not stmt.body:
        raise invalid("E0210", f"block `{name}` has no body", stmt.span, "empty",
                      "indent the block's statements under its `block` line")
    table = read_table_pattern(rest[0]) if rest and isinstance(rest[0], T.ListValue) else ()
    params = []
    for arg in rest[1:] if table else rest:
        if not isinstance(arg, T.Name) or "." in arg.name:
            raise invalid("E0206", "a block's parameters are names, with defaults as NAME=VALUE", arg.span,
                          "not a parameter name", "write it like `block conv_bn out kernel=3 stride=1`")
        params.append(Param(arg.name, _REQUIRED, arg.span))
    params += [_option_param(o, ev) for o in stmt.options]
    _check_params([*entry_params(table), *params])
    return BlockDef(name, tuple(params), stmt.body, stmt.span, head.span, table=table)


TABLE_HELP = ("a table block's first parameter lists its stage table's entries as names: "
              "`block bottleneck [[width, k1], [mid, k2], [out, k3]] stride=1`")


def read_table_pattern(pattern: T.ListValue) -> tuple[TableEntry, ...]:
    """`[[width, k1], [mid, k2]]`: each entry's channels and kernel, as the names the body reads."""
    entries = []
    for item in pattern.items:
        names = item.items if isinstance(item, (T.ListValue, T.TupleValue)) else ()
        if len(names) != 2 or not all(isinstance(n, T.Name) and "." not in n.name for n in names):
            raise invalid("E0206", "a table entry names its channels and kernel", item.span,
                          "expected [CHANNELS, KERNEL]", TABLE_HELP)
        entries.append(TableEntry(names[0].name, names[1].name, item.span))
    if not entries:
        raise invalid("E0206", "a table pattern lists at least one entry", pattern.span, "empty", TABLE_HELP)
    return tuple(entries)


def entry_params(table: tuple[TableEntry, ...]) -> list[Param]:
    """The names a table pattern's entries bind, as the required parameters they are."""
    return [Param(name, _REQUIRED, entry.span) for entry in table for name in (entry.channels, entry.kernel)]


def _option_param(option: T.Option, ev: Evaluator) -> Param:
    """`stride=1`: a parameter and its default; `norm=(bn, frozen_bn)`: one that takes one of
    those words, the first by default."""
    value = option.value
    if isinstance(value, T.TupleValue) and all(isinstance(v, (T.Name, T.Dims)) for v in value.items):
        choices = tuple(show(ev.word(v)) for v in value.items)
        return Param(option.name, choices[0], option.span, choices)
    return Param(option.name, ev.word(value), option.span)


def name_clash(block: BlockDef, taken) -> Diagnostic | None:
    """E0202 where the body defines a layer or scope (at its top level, `if` branches and sections
    included) named like a parameter and reads that name with `from`: the `from` would take the
    parameter, as a value every use must give, not the layer. (A parameter read only as a number,
    like SqueezeNet's `squeeze conv squeeze 1x1`, may share a layer's name.)"""
    params = {p.name: p for p in block.params if p.name in block.value_params}
    for name, span in _names_defined(block.body, taken):
        if name in params:
            return error("E0202", f"`{name}` names both a parameter of block `{block.name}` and a layer in its body",
                         span, "defined in the body here",
                         f"`from {name}` in the body would read the parameter, not this layer: rename the layer "
                         f"(e.g. `{name}_out`) or the parameter", (Label(params[name].span, "the parameter"),))
    return None


def _names_defined(statements, taken):
    """(name, span) for each name the statements define in their own scope: `NAME TYPE ...`,
    `scope NAME` (and the other structure words), and those under `if`/`elif`/`else` and sections."""
    for stmt in statements:
        first = stmt.args[0] if stmt.args and isinstance(stmt.args[0], T.Name) else None
        if stmt.word in CONDITIONS or stmt.word in SECTIONS:
            yield from _names_defined(stmt.body, taken)
        elif stmt.word in NAMED_STRUCTURES:
            if first is not None:
                yield first.name, first.span
        elif first is not None and first.name in taken and stmt.word not in taken:
            yield stmt.word, stmt.word_span


def _check_params(params: list[Param]) -> None:
    seen: dict[str, Param] = {}
    for p in params:
        if p.name in seen:
            raise invalid("E0202", f"parameter `{p.name}` is declared twice", p.span, "declared again",
                          "give each parameter its own name", (Label(seen[p.name].span, "first declared here"),))
        if p.name in (*ROW_OPTIONS, *UNIT_NAMES, "input"):
            raise invalid("E0213", f"`{p.name}` cannot name a block parameter", p.span, "reserved name",
                          f"`{p.name}` is the language's own inside a block; choose another, like `{p.name}_value`")
        seen[p.name] = p


def unused_parameters(block: BlockDef) -> list[Diagnostic]:
    """W0410 for each parameter (a table entry's names included) the body never reads."""
    read = names_read(block.body)
    entries = entry_params(block.table)
    return [warning("W0410", f"block `{block.name}` never uses its parameter `{p.name}`", p.span,
                    "never used", "remove the parameter, or use it in the block's body")
            for p in (*entries, *block.params) if p.name not in read]


def names_read(statements) -> set[str]:
    """Every name the statements read: their words, `from` names, arguments and options, bodies included."""
    found: set[str] = set()
    for stmt in statements:
        found.add(stmt.word)
        found |= {ref.name.split(".", 1)[0] for ref in stmt.inputs}
        found |= argument_names(stmt)
        found |= names_read(stmt.body)
    return found


def argument_names(stmt: T.Statement) -> set[str]:
    """The names one statement's arguments and option values read (not its body's)."""
    found: set[str] = set()
    for arg in stmt.args:
        found |= names_in(arg) if not isinstance(arg, T.Stride) else set()
    for option in stmt.options:
        found |= names_in(option.value)
    return found


def _names_after_from(statements) -> set[str]:
    found: set[str] = set()
    for stmt in statements:
        found |= {ref.name.split(".", 1)[0] for ref in stmt.inputs} | _names_after_from(stmt.body)
    return found


def unused_blocks(blocks: dict[str, BlockDef]) -> list[Diagnostic]:
    """W0411 for each block the spec defines and never uses (a library's are there to pick from)."""
    return [warning("W0411", f"block `{b.name}` is defined but never used", b.name_span, "never used",
                    "use it as a statement or a stage row's block type, or remove it")
            for b in blocks.values() if b.local and not b.used]


class Library:
    """Reads the definitions of a spec and of the libraries it uses, each file once."""

    def __init__(self, ev: Evaluator, taken, diagnostics: list[Diagnostic]):
        self.ev, self.taken, self.diagnostics = ev, taken, diagnostics
        self.blocks: dict[str, BlockDef] = {}
        self.read: set[Path] = set()
        #: a `use` failed: its blocks are unknown, so unknown layer types are not worth reporting
        self.failed = False

    def collect(self, statements, folder: Path | None, local: bool, chain: tuple[Path, ...] = ()) -> None:
        """Every `block` and `use` among the top-level `statements`."""
        for stmt in statements:
            try:
                if stmt.word == "block":
                    block = read_definition(stmt, self.ev, self.taken)
                    self.add(block, local)
                    clash = name_clash(block, (*self.taken, *self.blocks))
                    if clash is not None:
                        block.broken = True
                        self.diagnostics.append(clash)
                elif stmt.word == "use":
                    self.use(stmt, folder, chain)
                elif not local:
                    raise invalid("E0222", f"a block library holds only `block` and `use`, not `{stmt.word}`",
                                  stmt.word_span, "not a definition",
                                  "move layers into the spec that uses the library")
            except Invalid as exc:
                self.diagnostics.append(exc.diagnostic)
                self.failed = self.failed or stmt.word == "use"
                self.stand_in(stmt)

    def stand_in(self, stmt: T.Statement) -> None:
        """A definition refused for taking a prelude block's name still holds the name, broken, so
        its uses say nothing more (and are not taken for the prelude's block)."""
        head = stmt.args[0] if stmt.word == "block" and stmt.args and isinstance(stmt.args[0], T.Name) else None
        if head is not None and isinstance(self.taken, dict) and self.taken.get(head.name) \
                and head.name not in self.blocks:
            self.blocks[head.name] = BlockDef(head.name, (), (), stmt.span, head.span, local=False, broken=True)

    def add(self, block: BlockDef, local: bool) -> None:
        block.local = local
        first = self.blocks.get(block.name)
        if first is not None:
            raise invalid("E0202", f"block `{block.name}` is defined twice", block.name_span, "defined again",
                          "give each block its own name", (Label(first.name_span, "first defined here"),))
        self.blocks[block.name] = block

    def use(self, stmt: T.Statement, folder: Path | None, chain: tuple[Path, ...]) -> None:
        name = stmt.args[0] if len(stmt.args) == 1 and isinstance(stmt.args[0], T.Name) else None
        if name is None or stmt.options or stmt.inputs or stmt.body or "." in name.name:
            raise invalid("E0222", "`use` names one library: a file beside the spec, without `.arch`", stmt.span,
                          "expected `use NAME`", "write it like `use mobile_blocks` to read mobile_blocks.arch")
        path = (folder or Path(".")) / f"{name.name}.arch"
        resolved = path.resolve()
        if resolved in chain:
            raise invalid("E0222", f"library `{name.name}` uses itself", name.span, "a cycle of `use`",
                          " -> ".join(p.stem for p in (*chain, resolved)) + ": remove one of the `use` lines")
        if resolved in self.read:
            return
        if len(self.read) >= MAX_LIBRARIES:
            raise invalid("E0222", f"more than {MAX_LIBRARIES} libraries", name.span, "one too many",
                          "gather the blocks into fewer library files")
        self.read.add(resolved)
        tree = self.parse(path, name)
        if tree is not None:
            self.collect(tree.statements, path.parent, False, (*chain, resolved))

    def parse(self, path: Path, name: T.Name) -> T.Spec | None:
        from archdsl.syntax.parser import parse

        source, found = read_file(path)
        if source is not None:
            tree, found = parse(source, remember=True)
            if tree is not None:
                return tree
        why = found[0].message if found else "cannot be read"
        self.diagnostics += [d for d in found if d.span is not None]
        raise invalid("E0222", f"library `{name.name}` cannot be used: {why}", name.span, "used here",
                      f"`use {name.name}` reads {path}, beside the spec")


def spec_folder(source) -> Path | None:
    """The folder a spec's libraries are read from: its own, or the current one for a spec given as text."""
    name = getattr(source, "name", "")
    return None if not name or name.startswith("<") else Path(name).parent

