"""Source positions, diagnostics and the one function that renders them.

Every stage of archdsl reports problems as :class:`Diagnostic` values that point
at a :class:`Span` of the spec's text. They are collected, sorted into source
order and rendered once by :func:`render`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Source:
    """The text of one spec and the name it is reported under."""

    name: str
    text: str = field(repr=False)

    def line(self, number: int) -> str:
        """Line `number` (1-based) as the parser counts lines: split at `\\n` only."""
        lines = self._lines
        return lines[number - 1] if 0 < number <= len(lines) else ""

    @cached_property
    def _lines(self) -> list[str]:
        return self.text.split("\n")


@dataclass(frozen=True)
class Span:
    """A 1-based, end-exclusive region of a source: line:col to end_line:end_col."""

    source: Source | None = field(repr=False, compare=False)
    line: int
    col: int
    end_line: int
    end_col: int

    @property
    def file(self) -> str:
        return self.source.name if self.source else "<input>"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Label:
    """A secondary place involved in a diagnostic."""

    span: Span
    message: str


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span | None
    label: str = ""
    help: str = ""
    severity: Severity = Severity.ERROR
    notes: tuple[Label, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple:
        if self.span is None:
            return (0, 0, 0, self.code)
        return (1, self.span.line, self.span.col, self.code)

    def as_dict(self) -> dict:
        """The diagnostic as the JSON object documented in docs/errors.md."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            **_place(self.span),
            "label": self.label,
            "help": self.help or None,
            "related": [{**_place(note.span), "message": note.message} for note in self.notes],
        }


def _place(span: Span | None) -> dict:
    """The JSON fields of a span: file, line, column, end_line, end_column (null without a span)."""
    return {"file": span.file if span else None, "line": span.line if span else None,
            "column": span.col if span else None, "end_line": span.end_line if span else None,
            "end_column": span.end_col if span else None}


class ArchError(Exception):
    """Raised by the public API when a spec has errors; carries all of them."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__(render_all(self.diagnostics))


def error(code: str, message: str, span: Span | None, label: str = "", help: str = "",
          notes: tuple[Label, ...] = ()) -> Diagnostic:
    return Diagnostic(code, message, span, label, help, Severity.ERROR, notes)


def warning(code: str, message: str, span: Span | None, label: str = "", help: str = "",
            notes: tuple[Label, ...] = ()) -> Diagnostic:
    return Diagnostic(code, message, span, label, help, Severity.WARNING, notes)


MAX_SHOWN_LINE = 120


def _excerpt(span: Span, label: str, gutter: int, paint: "Paint", tone: str) -> list[str]:
    text = span.source.line(span.line) if span.source else ""
    start = span.col - 1
    shown = text.replace("\t", "→")  # one column, as the parser counts it, and visible: tabs matter to indentation
    if len(shown) > MAX_SHOWN_LINE:
        cut = max(0, min(start - 20, len(shown) - MAX_SHOWN_LINE))
        shown = ("…" if cut else "") + shown[cut:cut + MAX_SHOWN_LINE] + "…"
        start = start - cut + (1 if cut else 0)
    width = span.end_col - span.col if span.end_line == span.line else len(text) - start
    width = max(1, min(width, MAX_SHOWN_LINE - start + 1))
    bar = paint(" " * gutter + " |", "frame")
    caret = paint("^" * width + (f" {_clean(label)}" if label else ""), tone)
    return [bar, paint(f"{span.line:>{gutter}} |", "frame") + f" {_clean(shown)}", f"{bar} {' ' * start}{caret}"]


def render(d: Diagnostic, color: bool = False) -> str:
    """Render one diagnostic as text: headline, location, excerpt with caret, notes, help;
    with ANSI colours when `color` is true (the words are the same either way)."""
    paint = Paint(color)
    tone = d.severity.value
    out = [paint(f"{d.severity.value}[{d.code}]", tone) + paint(f": {_clean(d.message)}", "bold")]
    places = [s for s in [d.span, *(n.span for n in d.notes)] if s is not None]
    gutter = max((len(str(s.line)) for s in places), default=1)
    if d.span is not None:
        out.append(paint(f"{' ' * gutter}-->", "frame") + f" {_clean(str(d.span))}")
        out += _excerpt(d.span, d.label, gutter, paint, tone)
    for note in d.notes:
        out.append(paint(f"{' ' * gutter}:::", "frame") + f" {_clean(str(note.span))}")
        out += _excerpt(note.span, note.message, gutter, paint, "note")
    if d.help:
        out.append(f"{' ' * gutter} = " + paint("help", "help") + f": {_clean(d.help)}")
    return "\n".join(out)


def _clean(text: str) -> str:
    """Text from a spec or a path with its control characters shown as pictures (U+2400..), never
    sent to the terminal; one character each, so carets stay aligned."""
    return text.translate(_CONTROL_PICTURES)


_CONTROL_PICTURES = {**{c: 0x2400 + c for c in range(32) if c not in (9, 10)}, 0x7F: 0x2421,
                     **{c: 0xFFFD for c in range(0x80, 0xA0)}}


class Paint:
    """ANSI colours for a terminal, or none."""

    CODES = {"error": "1;31", "warning": "1;33", "note": "1;36", "frame": "1;34", "help": "1;32", "bold": "1"}

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, text: str, tone: str) -> str:
        return f"\x1b[{self.CODES[tone]}m{text}\x1b[0m" if self.enabled and text else text


MAX_REPORTED = 50


def render_all(diagnostics: list[Diagnostic], limit: int = MAX_REPORTED, color: bool = False) -> str:
    shown = [render(d, color) for d in diagnostics[:limit]]
    if len(diagnostics) > limit:
        shown.append(f"... and {len(diagnostics) - limit} more")
    return "\n\n".join(shown)


def to_json_lines(diagnostics: list[Diagnostic]) -> str:
    return "\n".join(json.dumps(d.as_dict(), ensure_ascii=False) for d in diagnostics)


def did_you_mean(word: str, choices) -> str:
    """A 'did you mean' hint for a misspelt word, or the empty string."""
    import difflib

    choices = sorted(set(choices))
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close and len(word) >= 3:  # `projection` for `proj`, `bottle` for `bottleneck`
        close = [c for c in choices if len(c) >= 3 and (word.startswith(c) or c.startswith(word))][:1]
    return f"did you mean `{close[0]}`?" if close else ""
