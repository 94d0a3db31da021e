"""Source positions, diagnostics and the one function that renders them.

Every stage of archdsl reports problems as :class:`Diagnostic` values that point
at a :class:`Span` of the spec's text. They are collected, sorted into source
order and rendered once by :func:`render`.
"""

from __future__ import annotations

import bisect
import json
from contextlib import contextmanager
from contextvars import ContextVar
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


#: sets a frozen dataclass's fields all at once, as `set_fields(self, "__dict__", {...})`: the
#: __init__ dataclass writes sets them one by one, at twice the cost, and the parser makes a span
#: and a syntax value for almost every token
set_fields = object.__setattr__


@dataclass(frozen=True, init=False)
class Span:
    """A 1-based, end-exclusive region of a source: line:col to end_line:end_col."""

    source: Source | None = field(repr=False, compare=False)
    line: int
    col: int
    end_line: int
    end_col: int

    def __init__(self, source: Source | None, line: int, col: int, end_line: int, end_col: int):
        set_fields(self, "__dict__", {"source": source, "line": line, "col": col, "end_line": end_line,
                                      "end_col": end_col})

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
            "message": escape_json(self.message),
            **_place(self.span),
            "label": escape_json(self.label),
            "help": escape_json(self.help) if self.help else None,
            "related": [{**_place(note.span), "message": escape_json(note.message)} for note in self.notes],
        }


def _place(span: Span | None) -> dict:
    """The JSON fields of a span: file, line, column, end_line, end_column (null without a span)."""
    return {"file": escape_json(span.file) if span else None, "line": span.line if span else None,
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
    # an escape is wider than the character it shows: the caret moves and widens with it
    start, width = len(escape_text(shown[:start])), max(1, len(escape_text(shown[start:start + width])))
    bar = paint(" " * gutter + " |", "frame")
    caret = paint("^" * width + (f" {escape_text(label)}" if label else ""), tone)
    return [bar, paint(f"{span.line:>{gutter}} |", "frame") + f" {escape_text(shown)}",
            f"{bar} {' ' * start}{caret}"]


def render(d: Diagnostic, color: bool = False) -> str:
    """Render one diagnostic as text: headline, location, excerpt with caret, notes, help;
    with ANSI colours when `color` is true (the words are the same either way)."""
    paint = Paint(color)
    tone = d.severity.value
    out = [paint(f"{d.severity.value}[{d.code}]", tone) + paint(f": {escape_text(d.message)}", "bold")]
    places = [s for s in [d.span, *(n.span for n in d.notes)] if s is not None]
    gutter = max((len(str(s.line)) for s in places), default=1)
    if d.span is not None:
        out.append(paint(f"{' ' * gutter}-->", "frame") + f" {escape_text(str(d.span))}")
        out += _excerpt(d.span, d.label, gutter, paint, tone)
    for note in d.notes:
        out.append(paint(f"{' ' * gutter}:::", "frame") + f" {escape_text(str(note.span))}")
        out += _excerpt(note.span, note.message, gutter, paint, "note")
    if d.help:
        out.append(f"{' ' * gutter} = " + paint("help", "help") + f": {escape_text(d.help)}")
    return "\n".join(out)


def escape_text(text: str) -> str:
    """Text from a spec or a path as it may reach a terminal: control characters as pictures
    (U+2400..; one column each), everything escape_json escapes escaped the same way."""
    return text.translate(_TEXT_ESCAPES)


def escape_json(text: str) -> str:
    """Text from a spec or a path as it may go into JSON: a byte that was not UTF-8 (a surrogate
    from os.fsdecode) as `\\xff`, any other lone surrogate and the characters that reorder or hide
    text (bidi controls, zero-width ones) as `<U+202E>`. JSON escapes control characters itself."""
    return text.translate(_JSON_ESCAPES)


_INVISIBLE = [0x061C, 0x180E, *range(0x200B, 0x2010), 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2060, 0x2065),
              *range(0x2066, 0x206A), 0xFEFF, *range(0xFFF9, 0xFFFC)]
_JSON_ESCAPES = {**{c: f"<U+{c:04X}>" for c in [*_INVISIBLE, *range(0xD800, 0xDC80), *range(0xDD00, 0xE000)]},
                 **{c: f"\\x{c - 0xDC00:02x}" for c in range(0xDC80, 0xDD00)}}
_TEXT_ESCAPES = {**_JSON_ESCAPES, **{c: 0x2400 + c for c in range(32) if c not in (9, 10)}, 0x7F: 0x2421,
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


#: at most this many names are compared with a misspelt word: those sharing the most of its start or end
MAX_COMPARED = 100
#: after this many searches among many names in one check, unknown names get the generic hint only
MAX_SEARCHES = 50
#: a search among fewer names than this is cheap and never counts against MAX_SEARCHES
SMALL_SEARCH = 50

_searches: ContextVar[list[int] | None] = ContextVar("did_you_mean_searches", default=None)


@contextmanager
def suggestion_budget(searches: int = MAX_SEARCHES):
    """Within this block, at most `searches` 'did you mean' searches among SMALL_SEARCH or more
    names are made; later ones return no hint. This keeps a check linear in the spec's size when
    it is full of unknown names (each search is bounded by MAX_COMPARED names)."""
    token = _searches.set([searches])
    try:
        yield
    finally:
        _searches.reset(token)


def did_you_mean(word: str, choices) -> str:
    """A 'did you mean' hint for a misspelt word, or the empty string.

    At most MAX_COMPARED of `choices` are compared with `word` (see _nearest), and inside
    suggestion_budget only so many searches among many names are made."""
    import difflib

    left = _searches.get()
    if left is not None and len(choices) >= SMALL_SEARCH:
        if left[0] <= 0:
            return ""
        left[0] -= 1
    choices = _nearest(word, set(choices))
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close and len(word) >= 3:  # `projection` for `proj`, `bottle` for `bottleneck`
        close = [c for c in choices if len(c) >= 3 and (word.startswith(c) or c.startswith(word))][:1]
    return f"did you mean `{close[0]}`?" if close else ""


def _nearest(word: str, choices: set[str]) -> list[str]:
    """At most MAX_COMPARED choices like `word`: those beside it in alphabetical order (the longest
    shared starts) and in the order of the reversed names (the longest shared ends); one typo
    keeps the start before it or the end after it. Sorting is the only work over all the choices."""
    ordered = sorted(choices)
    if len(ordered) <= MAX_COMPARED:
        return ordered
    half = MAX_COMPARED // 2
    backwards = sorted(c[::-1] for c in ordered)
    near = set(_beside(ordered, word, half)) | {c[::-1] for c in _beside(backwards, word[::-1], half)}
    return sorted(near)


def _beside(ordered: list[str], word: str, count: int) -> list[str]:
    """The `count` entries of sorted `ordered` around where `word` would go."""
    at = bisect.bisect_left(ordered, word)
    start = max(0, min(at - count // 2, len(ordered) - count))
    return ordered[start:start + count]
