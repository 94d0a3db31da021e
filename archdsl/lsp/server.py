"""The pygls server: keeps one Analysis per open document and answers the editor from it.

Every request is answered from the latest analysis of its document; an analysis runs on open and
on each change (parsing and elaborating the largest bundled spec takes tens of milliseconds, see
docs/editors.md), so no debouncing is needed.
"""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types as L
from pygls.lsp.server import LanguageServer

from archdsl import __version__
from archdsl.diagnostics import Diagnostic, Span
from archdsl.lsp import assist
from archdsl.lsp.document import Analysis, analyse_text, char_column, path_to_uri, span_range, uri_to_path
from archdsl.lsp.hover import hover_text
from archdsl.lsp.navigate import (Libraries, definition_of, library_file, parameter_of, path_at, word_at,
                                    words)

SEVERITY = {"error": L.DiagnosticSeverity.Error, "warning": L.DiagnosticSeverity.Warning}


class ArchServer(LanguageServer):
    """The language server's state: the analyses of open documents and the libraries read."""

    def __init__(self):
        super().__init__("archdsl", __version__, text_document_sync_kind=L.TextDocumentSyncKind.Full)
        self.analyses: dict[str, Analysis] = {}
        self.libraries = Libraries()
        self.errors_url = default_errors_url()

    @property
    def encoding(self) -> str:
        chosen = self.server_capabilities.position_encoding if self.protocol.client_capabilities else None
        return str(getattr(chosen, "value", chosen) or "utf-16")

    def refresh(self, uri: str) -> None:
        """Analyse the document's current text and publish its diagnostics."""
        document = self.workspace.get_text_document(uri)
        try:
            analysis = analyse_text(uri_to_path(uri), document.source)
        except Exception as exc:  # a bug in archdsl: say so, keep serving the other documents
            self.window_log_message(L.LogMessageParams(L.MessageType.Error, f"archdsl: internal error checking "
                                                       f"{uri}: {type(exc).__name__}: {exc}"))
            return
        self.analyses[uri] = analysis
        found = [self.diagnostic(d, analysis) for d in analysis.diagnostics]
        self.text_document_publish_diagnostics(
            L.PublishDiagnosticsParams(uri=uri, version=document.version, diagnostics=found))

    def diagnostic(self, d: Diagnostic, analysis: Analysis) -> L.Diagnostic:
        """One diagnostic as the editor shows it. One found in a library (inside a block's body) is
        shown at its first note in this document (the use that made it), with its own place related."""
        own = analysis.source.name
        span, related = d.span, [(note.span, note.message) for note in d.notes]
        if span is not None and span.file != own:
            near = next((note.span for note in d.notes if note.span.file == own), None)
            related.insert(0, (span, d.label or "here"))
            span = near
        message = d.message + (f"\nhelp: {d.help}" if d.help else "")
        href = self.code_link(d.code)
        return L.Diagnostic(
            range=self.range(span), message=message, severity=SEVERITY[d.severity.value], code=d.code,
            code_description=L.CodeDescription(href=href) if href else None, source="archdsl",
            related_information=[L.DiagnosticRelatedInformation(self.location(s), m) for s, m in related] or None,
            data={"help": d.help, "label": d.label})

    def code_link(self, code: str) -> str | None:
        from archdsl.catalogue import lookup
        from archdsl.catalogue.markdown import anchor

        entry = lookup(code)
        if entry is None or not self.errors_url:
            return None
        return f"{self.errors_url}#{anchor(entry)}"

    def range(self, span: Span | None) -> L.Range:
        r = span_range(span, self.encoding)
        return L.Range(L.Position(**r["start"]), L.Position(**r["end"]))

    def location(self, span: Span) -> L.Location:
        return L.Location(uri=path_to_uri(span.file), range=self.range(span))

    def cursor(self, uri: str, position: L.Position) -> tuple[Analysis, int, int] | None:
        """The document's analysis and the 1-based line and column at `position`."""
        analysis = self.analyses.get(uri)
        if analysis is None or analysis.tree is None:
            return None
        line = position.line + 1
        return analysis, line, char_column(analysis.source.line(line), position.character, self.encoding)

    def blocks(self, analysis: Analysis) -> dict:
        folder = Path(analysis.source.name).parent
        return self.libraries.blocks(analysis.tree.statements if analysis.tree else (), folder)


def default_errors_url() -> str | None:
    """The catalogue the diagnostic codes link to: docs/errors.md of the checkout archdsl runs from."""
    page = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
    return page.as_uri() if page.is_file() else None


def create_server() -> ArchServer:
    """A server with every feature registered."""
    server = ArchServer()

    @server.feature(L.INITIALIZE)
    def initialize(ls: ArchServer, params: L.InitializeParams):
        options = params.initialization_options or {}
        if isinstance(options, dict) and isinstance(options.get("errorsUrl"), str):
            ls.errors_url = options["errorsUrl"]

    @server.feature(L.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: ArchServer, params: L.DidOpenTextDocumentParams):
        ls.refresh(params.text_document.uri)

    @server.feature(L.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: ArchServer, params: L.DidChangeTextDocumentParams):
        ls.refresh(params.text_document.uri)

    @server.feature(L.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: ArchServer, params: L.DidSaveTextDocumentParams):
        # a saved library changes what the specs that use it read from disk: check every open one again
        for uri in [params.text_document.uri, *(u for u in ls.analyses if u != params.text_document.uri)]:
            ls.refresh(uri)

    @server.feature(L.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: ArchServer, params: L.DidCloseTextDocumentParams):
        ls.analyses.pop(params.text_document.uri, None)
        ls.text_document_publish_diagnostics(L.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

    @server.feature(L.TEXT_DOCUMENT_HOVER)
    def hover(ls: ArchServer, params: L.HoverParams):
        at = ls.cursor(params.text_document.uri, params.position)
        if at is None:
            return None
        analysis, line, col = at
        chain = path_at(analysis.tree.statements, line, col)
        text = hover_text(analysis, chain, ls.blocks(analysis)) if chain else None
        if not text:
            return None
        return L.Hover(contents=L.MarkupContent(kind=L.MarkupKind.Markdown, value=text), range=ls.range(chain[-1].span))

    @server.feature(L.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: ArchServer, params: L.DefinitionParams):
        at = ls.cursor(params.text_document.uri, params.position)
        if at is None:
            return None
        analysis, line, col = at
        span = find_definition(analysis, line, col, ls.blocks(analysis))
        return ls.location(span) if isinstance(span, Span) else span

    @server.feature(L.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def symbols(ls: ArchServer, params: L.DocumentSymbolParams):
        analysis = ls.analyses.get(params.text_document.uri)
        if analysis is None or analysis.tree is None:
            return []
        return assist.symbols(analysis.tree.statements, ls.range)

    @server.feature(L.TEXT_DOCUMENT_COMPLETION, L.CompletionOptions(trigger_characters=["=", " "]))
    def completion(ls: ArchServer, params: L.CompletionParams):
        at = ls.cursor(params.text_document.uri, params.position)
        if at is None:
            analysis = ls.analyses.get(params.text_document.uri)
            if analysis is None:
                return []
            at = analysis, params.position.line + 1, params.position.character + 1
        analysis, line, col = at
        return assist.completions(analysis, line, col, ls.blocks(analysis))

    @server.feature(L.TEXT_DOCUMENT_CODE_ACTION,
                    L.CodeActionOptions(code_action_kinds=[L.CodeActionKind.QuickFix]))
    def code_action(ls: ArchServer, params: L.CodeActionParams):
        analysis = ls.analyses.get(params.text_document.uri)
        if analysis is None:
            return []
        return assist.code_actions(params.text_document.uri, analysis, params.context.diagnostics, ls.encoding)

    return server


def find_definition(analysis: Analysis, line: int, col: int, blocks: dict) -> Span | L.Location | None:
    """Where the name at `line`:`col` is defined: a value, a parameter, a `let`, a block (here or in a
    library: `blocks`, by name), or the library file a `use` reads."""
    chain = path_at(analysis.tree.statements, line, col)
    if not chain:
        return None
    word = word_at(chain[-1], line, col, blocks)
    if word is None:
        return None
    if word.role == "use":
        path = library_file(word.name, Path(analysis.source.name).parent)
        return L.Location(uri=path_to_uri(path), range=L.Range(L.Position(0, 0), L.Position(0, 0))) if path else None
    if word.role in ("type", "value") and word.name in blocks:
        block = blocks[word.name]
        return block.args[0].span
    if word.role == "option":
        return parameter_of(chain[-1], word.name, blocks)
    if word.role == "type":
        from archdsl.semantics import prelude

        found = prelude.block_types().get(word.name)
        return found.name_span if found is not None else None  # a prelude block's, in archdsl/prelude.arch
    return definition_of(word, chain, analysis.tree.statements, (*words(), *blocks))


def serve() -> None:
    """Run the server on standard input and output until the client says exit. pygls closes the
    streams it writes to on exit, so it gets its own handle on standard output: the command line's
    closing flush still finds sys.stdout open."""
    import os
    import sys

    with os.fdopen(os.dup(sys.stdout.fileno()), "wb") as out:
        create_server().start_io(sys.stdin.buffer, out)
