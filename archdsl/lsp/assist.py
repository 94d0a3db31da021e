"""Outline, completion and quick fixes: what the editor offers around the cursor."""

from __future__ import annotations

import re
from dataclasses import replace

from lsprotocol import types as L

from archdsl.lsp.document import Analysis, client_column
from archdsl.lsp.navigate import SECTIONS, defined_before, path_at, statement_name, words
from archdsl.lsp.vocabulary import language_words
from archdsl.syntax import tree as T

#: options that take true or false on layers
BOOLEAN_OPTIONS = ("bias", "ceil", "count_pad", "align_corners", "dilate")
#: words of layer options that take a word (besides the activations', read from their table)
LAYER_OPTION_WORDS = {"mode": ("row", "batch", "nearest", "bilinear")}


# --- outline ------------------------------------------------------------------


def symbols(statements, to_range, known=None) -> list[L.DocumentSymbol]:
    """The outline: the network, sections, stage rows, scopes, block definitions and named layers."""
    known = known or words()
    out = []
    for stmt in statements:
        symbol = _symbol(stmt, to_range, known)
        if symbol is not None:
            out.append(symbol)
        elif stmt.body:  # `if`: its statements take their place in the outline
            out += symbols(stmt.body, to_range, known)
    return out


def _symbol(stmt: T.Statement, to_range, known) -> L.DocumentSymbol | None:
    first = stmt.args[0].name if stmt.args and isinstance(stmt.args[0], T.Name) else None
    if stmt.word == "network":
        name, kind = first or "network", L.SymbolKind.Module
    elif stmt.word == "block":
        name, kind = first or "block", L.SymbolKind.Class
    elif stmt.word in SECTIONS:
        name, kind = (f"stages {first}" if stmt.word == "stages" and first else stmt.word), L.SymbolKind.Namespace
    elif stmt.word in ("scope", "residual", "concat"):
        name, kind = f"{stmt.word} {first}" if first else stmt.word, L.SymbolKind.Namespace
    else:
        named = statement_name(stmt, known)
        if named is None and not stmt.word.isdigit():
            return None
        row = any(isinstance(a, T.ListValue) for a in stmt.args) or "repeat" in {o.name for o in stmt.options}
        name = named.name if named is not None else f"{stmt.word} {first or ''}".strip()  # `2 mbconv`: by position
        kind = L.SymbolKind.Struct if row else L.SymbolKind.Field
    whole = to_range(_whole_span(stmt))
    return L.DocumentSymbol(name=name, kind=kind, range=whole, selection_range=to_range(stmt.word_span),
                            children=symbols(stmt.body, to_range, known) or None)


def _whole_span(stmt: T.Statement):
    """The statement's span, its body included."""
    last = stmt
    while last.body:
        last = last.body[-1]
    ends = [stmt.span, last.span, *(a.span for a in last.args), *(o.span for o in last.options)]
    end = max(ends, key=lambda s: (s.end_line, s.end_col))
    return replace(stmt.span, end_line=end.end_line, end_col=end.end_col)


# --- completion ---------------------------------------------------------------


def completions(analysis: Analysis, line: int, col: int, blocks: dict) -> list[L.CompletionItem]:
    """What can be written at the cursor: an option's words after `name=`, visible values after
    `from`, a statement's type or a word of the language at the start of a line, else options
    and visible names."""
    text = analysis.source.line(line)[:col - 1]
    statements = analysis.tree.statements if analysis.tree else ()
    option = re.search(r"(\w+)=\w*$", text)
    if option:
        return _items(option_words(option.group(1), blocks), L.CompletionItemKind.EnumMember)
    if re.search(r"\bfrom\s+(\w+\s*,\s*)*\w*$", text):
        return _items(visible_names(statements, line, col, layers_only=True), L.CompletionItemKind.Variable)
    head = text.split()
    done = head if text.endswith((" ", "\t")) else head[:-1]  # the words before the one being typed
    keywords = [w for w in language_words()["keyword"] if w != "from"]
    if done == ["use"]:
        return _items(libraries_near(analysis.source.name), L.CompletionItemKind.Module)
    if done == ["stages"]:
        from archdsl.semantics import prelude
        from archdsl.semantics.blocks import registry

        return _items([*prelude.block_types(), *registry()], L.CompletionItemKind.Class) + \
            _items(blocks, L.CompletionItemKind.Function)
    if not done or (len(done) == 1 and done[0] not in (*words(), *keywords, *blocks)):  # a type is next
        return (_items(words(), L.CompletionItemKind.Class) + _items(blocks, L.CompletionItemKind.Function)
                + _items(keywords, L.CompletionItemKind.Keyword))
    layer = next((w for w in head if w in words() or w in blocks), None)
    return (_items([f"{o}=" for o in options_of(layer, blocks)], L.CompletionItemKind.Property)
            + _items(visible_names(statements, line, col), L.CompletionItemKind.Variable))


def libraries_near(spec: str, most: int = 500) -> list[str]:
    """The block libraries `use` can name from `spec`: those beside it, then the bundled ones (at most
    `most` files of each folder are looked at)."""
    from pathlib import Path

    from archdsl.zoo import bundled_folder, is_library

    found = []
    for folder in (Path(spec).parent, bundled_folder()):
        try:
            files = sorted(folder.glob("*.arch"))[:most]
        except OSError:
            continue
        found += [path.stem for path in files if path.name != Path(spec).name and is_library(path)]
    return found


def _items(labels, kind) -> list[L.CompletionItem]:
    return [L.CompletionItem(label=label, kind=kind) for label in dict.fromkeys(labels)]


def options_of(word: str | None, blocks: dict) -> list[str]:
    """The options a layer type, block type or user block takes."""
    from archdsl.semantics import prelude
    from archdsl.semantics.blocks import registry
    from archdsl.semantics.ops import OPS

    if word in OPS:
        return list(OPS[word].options)
    if word in prelude.block_types():
        return prelude.block_types()[word].row_options()
    if word in registry():
        return list(registry()[word].options)
    if word in blocks:
        block = blocks[word]
        return [a.name for a in block.args[1:] if isinstance(a, T.Name)] + [o.name for o in block.options] \
            + ["repeat", "names"]
    return []


def option_words(option: str, blocks: dict) -> list[str]:
    """The words option `option` takes, on any layer or block type."""
    from archdsl.ir.ops.act import ACTIVATIONS
    from archdsl.semantics import prelude
    from archdsl.semantics.blocks import registry
    from archdsl.semantics.userblocks import NAMINGS

    found: list[str] = []
    if option in BOOLEAN_OPTIONS:
        found += ["true", "false"]
    found += LAYER_OPTION_WORDS.get(option, ())
    for activation in ACTIVATIONS.values():
        if option in activation.options:
            found += activation.options[option].choices
    for block in registry().values():
        if option in block.options:
            found += block.options[option].words
    for definition in prelude.block_types().values():
        param = definition.param(option)
        found += param.choices if param is not None else ()
    if option == "act" or option.endswith("_act") or option == "gate":
        found += [*ACTIVATIONS, "none"]
    if option == "names":
        found += NAMINGS
    return found


def visible_names(statements, line: int, col: int, layers_only: bool = False) -> list[str]:
    """The names a statement at `line` can read: earlier values in its scope and those around it,
    the enclosing block's parameters, `let` and `param` names, and `input`."""
    chain = path_at(statements, line, col) or _enclosing(statements, line)
    levels = [statements] + [stmt.body for stmt in chain]
    stops = [*chain, None]
    names = ["input"]
    known = words()
    for index, level in enumerate(levels):
        for kind, name, _ in defined_before(level, stops[index], known):
            if not layers_only or kind == "layer":
                names.append(name)
        owner = chain[index - 1] if index > 0 else None
        if owner is not None and owner.word == "block" and not layers_only:
            names += [a.name for a in owner.args[1:] if isinstance(a, T.Name)] + [o.name for o in owner.options]
    return names


def _enclosing(statements, line: int) -> list[T.Statement]:
    """The statements whose bodies enclose `line` (an empty line being written inside a block)."""
    for stmt in reversed(statements):
        if stmt.span.line < line:
            return [stmt, *_enclosing(stmt.body, line)] if stmt.body else []
    return []


# --- quick fixes ----------------------------------------------------------------

DID_YOU_MEAN = re.compile(r"did you mean `([^`]+)`\?")
NEAREST = re.compile(r"(\d+) is not divisible by \d+; nearest: ([\d, ]+)")


def code_actions(uri: str, analysis: Analysis, diagnostics: list[L.Diagnostic], encoding: str) -> list[L.CodeAction]:
    """Fixes a diagnostic's help names: the word it meant (`did you mean `bn`?`), the nearest width
    that divides (`63 is not divisible by 2; nearest: 62, 64`) where the width is written as a number."""
    actions = []
    for d in diagnostics:
        help = (d.data or {}).get("help", "") if isinstance(d.data, dict) else ""
        if not help or d.range.start.line != d.range.end.line:
            continue
        line = analysis.source.line(d.range.start.line + 1)
        meant = DID_YOU_MEAN.search(help)
        if meant and _is_word(_slice(line, d.range, encoding)):
            actions.append(_replace(uri, d, d.range, meant.group(1), f"Change to `{meant.group(1)}`"))
        nearest = NEAREST.search(help)
        if nearest:
            actions += _widths(uri, d, line, nearest.group(1), nearest.group(2), encoding)
    return actions


def _slice(line: str, r: L.Range, encoding: str) -> str:
    from archdsl.lsp.document import char_column

    start = char_column(line, r.start.character, encoding) - 1
    end = char_column(line, r.end.character, encoding) - 1
    return line[start:end]


def _is_word(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][\w.]*", text) is not None


def _widths(uri: str, d: L.Diagnostic, line: str, bad: str, nearest: str, encoding: str) -> list[L.CodeAction]:
    """One fix per nearest width, where `bad` is written as a number within the diagnostic's range."""
    region = _slice(line, d.range, encoding)
    found = re.search(rf"(?<![\w.]){bad}(?![\w.])", region)
    if found is None:
        return []
    start = d.range.start.character + client_column(region, found.start() + 1, encoding)
    where = L.Range(L.Position(d.range.start.line, start), L.Position(d.range.start.line, start + len(bad)))
    return [_replace(uri, d, where, width.strip(), f"Change {bad} to {width.strip()}")
            for width in nearest.split(",") if width.strip()]


def _replace(uri: str, d: L.Diagnostic, where: L.Range, text: str, title: str) -> L.CodeAction:
    edit = L.WorkspaceEdit(changes={uri: [L.TextEdit(range=where, new_text=text)]})
    return L.CodeAction(title=title, kind=L.CodeActionKind.QuickFix, diagnostics=[d], edit=edit)
