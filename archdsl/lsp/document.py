"""One open spec, analysed: its syntax tree, its IR (where it checks), its diagnostics, and which
nodes each statement made; plus the conversions between spans and editor positions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from archdsl.diagnostics import Diagnostic, Source, Span
from archdsl.ir.graph import Graph
from archdsl.syntax import tree as T


#: rounds of blanking the lines with syntax errors before giving up on a tree for a broken spec
MAX_BLANKING = 4


@dataclass
class Analysis:
    """What the server knows of one version of a document."""

    source: Source
    tree: T.Spec | None
    graph: Graph | None
    diagnostics: list[Diagnostic]
    #: (statement, first node id, end node id) for every statement walked, those of block bodies included
    made: list[tuple[T.Statement, int, int]] = field(default_factory=list)

    def nodes_of(self, stmt: T.Statement) -> list[range]:
        """The node id ranges `stmt` made, once per time it was walked (a block body's statements once per unit)."""
        if self.graph is None:
            return []
        return [range(start, end) for made, start, end in self.made if made is stmt and end > start]


def analyse_text(path: str, text: str) -> Analysis:
    """Parse and elaborate `text` as the spec at `path` (its `use`d libraries are read beside it).
    A file of only `block` and `use` lines is checked as a block library."""
    from archdsl.api import python_file, text_source
    from archdsl.semantics import elaborate
    from archdsl.semantics.builder import MADE_BY
    from archdsl.syntax.parser import parse

    source = text_source(path, text)
    tree, diagnostics = parse(source)
    graph, made = None, []
    if tree is not None:
        token = MADE_BY.set(made)
        try:
            graph, diagnostics = elaborate(tree, library=True)
        finally:
            MADE_BY.reset(token)
        if not isinstance(graph, Graph):
            graph = None
    if graph is None:
        diagnostics = python_file(source) or diagnostics
    if tree is None:
        tree = _tree_without(source, diagnostics)
    return Analysis(source, tree, graph, sorted(diagnostics, key=Diagnostic.sort_key), made)


def _tree_without(source: Source, diagnostics: list[Diagnostic]) -> T.Spec | None:
    """A spec with syntax errors (a line being typed) still has a tree to navigate: the one its other
    lines make, with those the errors are on blanked (so every span stays where it was)."""
    from archdsl.api import text_source
    from archdsl.syntax.parser import parse

    lines = source.text.split("\n")
    for _ in range(MAX_BLANKING):  # an unclosed bracket hides the errors after it until it is blanked
        broken = {d.span.line for d in diagnostics if d.span is not None and d.span.file == source.name}
        if not broken:
            return None
        lines = [" " * len(line) if number in broken else line for number, line in enumerate(lines, 1)]
        tree, diagnostics = parse(text_source(source.name, "\n".join(lines)))
        if tree is not None:
            return tree
    return None


def uri_to_path(uri: str) -> str:
    """The file system path of a `file:` URI; other URIs (an unsaved buffer) as they are."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return uri
    return str(Path(unquote(parsed.path)))


def path_to_uri(path: str | Path) -> str:
    return Path(path).absolute().as_uri()


def _units(text: str, encoding: str) -> int:
    """The length of `text` in the position encoding agreed with the client."""
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-32":
        return len(text)
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def client_column(line: str, col: int, encoding: str = "utf-16") -> int:
    """The LSP character offset (0-based, in `encoding`'s code units) of 1-based character column `col`."""
    return _units(line[:max(col - 1, 0)], encoding)


def char_column(line: str, character: int, encoding: str = "utf-16") -> int:
    """The 1-based character column of LSP offset `character` (in `encoding`'s code units) on `line`."""
    units = 0
    for index, c in enumerate(line):
        if units >= character:
            return index + 1
        units += _units(c, encoding)
    return len(line) + 1


def span_range(span: Span | None, encoding: str = "utf-16") -> dict:
    """An LSP Range (as a plain dict) for `span`; the start of the file for a diagnostic without one."""
    if span is None:
        return {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}
    source = span.source
    start = client_column(source.line(span.line) if source else "", span.col, encoding)
    end = client_column(source.line(span.end_line) if source else "", span.end_col, encoding)
    return {"start": {"line": span.line - 1, "character": start},
            "end": {"line": span.end_line - 1, "character": end}}


def contains(span: Span, line: int, col: int) -> bool:
    """Whether 1-based `line`:`col` lies in `span` (its end included, so a cursor just after a word is on it)."""
    if (line, col) < (span.line, span.col):
        return False
    return (line, col) <= (span.end_line, span.end_col)
