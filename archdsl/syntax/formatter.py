"""The canonical layout of a spec, for `archdsl fmt`.

It works from the syntax tree and the source text alone: spans give each statement its place
and each number, size and name its text as written; comments, which the parser drops, are read
from the lines (the language has no strings, so `#` always opens one). The layout:

- two spaces of indentation a level; one space between words, options written `name=value`
  (`name = value` after `param` and `let`, two spaces between several), binary operators
  between spaces, `, ` between the items of a list, a call's arguments and `from`'s names;
  parentheses only where they are needed;
- inside a list that is itself inside a list (a stage table's entries) items are joined by `,`
  and `*` has no spaces around it: `[6, [[bn_size*growth,1x1],[growth,3x3]]]`;
- a table: consecutive sibling lines without a body, not a keyword statement, each naming a
  layer or a stage row (a name then a type, or a name then a list), have their second column
  aligned two spaces after the longest first word (where the first words are equally long, one
  space already aligns them); what follows a stage row's list is aligned the same way;
- comments stay on their lines: a trailing comment two spaces after the code, aligned with the
  trailing comments of the lines next to it; a comment line at the indentation of the block it
  sits in. A comment inside a statement that spans several lines moves above the statement,
  which becomes one line;
- at most one blank line in a row, none at the start of a file or of a block, none at the end;
  one before and after each top-level statement with a block under it (a block definition, a
  section), except before `elif` and `else`, and comment lines just above such a statement stay
  with it.

Formatting never changes meaning: the text is parsed again and its tree (spans aside) must be
the one formatted, or FormatError is raised (a bug in the formatter, never in the spec).
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass, field

from archdsl.diagnostics import Diagnostic, Source, Span
from archdsl.syntax import tree as T

INDENT = "  "
#: statement words that declare or control rather than name a layer: their lines are never in a table
KEYWORDS = frozenset({"network", "input", "param", "default", "use", "let", "require", "if", "elif", "else",
                      "block", "output"})
#: statements whose options declare values, written `name = value`
DECLARATIONS = frozenset({"param", "let"})
#: statements that continue the `if` above them, so no blank line is put before them
CONTINUATIONS = frozenset({"elif", "else"})

_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "floordiv": "//", "truediv": "/", "mod": "%", "and": "and",
            "or": "or"}
_PRECEDENCE = {"or": 1, "and": 2, "not": 3, "compare": 4, "add": 5, "sub": 5, "mul": 6, "floordiv": 6,
               "truediv": 6, "mod": 6}
_ATOM = 7
#: operators written without spaces inside a nested list (others keep them: `a-b` would be one name, `a/2` a stride)
_COMPACT = frozenset({"mul"})


class FormatError(Exception):
    """The formatted text does not parse to the same tree: a bug in the formatter."""


def format_source(source: Source) -> tuple[str | None, list[Diagnostic]]:
    """The spec's text in the canonical layout, or None and the syntax diagnostics that stop it."""
    from archdsl.syntax.parser import parse

    spec, diagnostics = parse(source)
    if spec is None:
        return None, diagnostics
    text = format_spec(spec)
    again, problems = parse(Source(source.name, text))
    if again is None or shape(again) != shape(spec):
        raise FormatError(f"formatting {source.name} would change its meaning"
                          + (f" ({problems[0].message})" if problems else ""))
    return text, []


def format_spec(spec: T.Spec) -> str:
    """The text of a parsed spec in the canonical layout."""
    lines = _Layout(spec).lines()
    return "\n".join(lines) + "\n" if lines else ""


def shape(node):
    """A syntax tree with its spans left out, for comparing two parses."""
    if isinstance(node, T.Spec):
        return shape(node.statements)
    if isinstance(node, tuple):
        return tuple(shape(item) for item in node)
    if dataclasses.is_dataclass(node):
        return (type(node).__name__,) + tuple(shape(getattr(node, f.name)) for f in dataclasses.fields(node)
                                              if f.name not in ("span", "word_span", "name_span", "function_span"))
    return node


# --- values ---------------------------------------------------------------------------------

class _Values:
    """Writes values: atoms as they were written, the rest rebuilt from the tree."""

    def __init__(self, source_lines: list[str]):
        self.source_lines = source_lines

    def written(self, span: Span) -> str:
        return self.source_lines[span.line - 1][span.col - 1:span.end_col - 1]

    def text(self, value, lists: int = 0) -> str:
        """`value`'s text; `lists` counts the lists around it."""
        return self.write(value, lists)[0]

    def write(self, value, lists: int) -> tuple[str, int]:
        """(text, precedence) of a value."""
        if isinstance(value, T.Name):
            return value.name, _ATOM
        if isinstance(value, (T.Int, T.Float, T.Dims, T.Stride)):
            return self.written(value.span), _ATOM
        compact = lists >= 2
        comma = "," if compact else ", "
        if isinstance(value, T.ListValue):
            return "[" + (",", ", ")[lists == 0].join(self.text(v, lists + 1) for v in value.items) + "]", _ATOM
        if isinstance(value, T.TupleValue):
            return "(" + comma.join(self.text(v, lists) for v in value.items) + ")", _ATOM
        if isinstance(value, T.Call):
            return f"{value.function}(" + comma.join(self.text(v, lists) for v in value.args) + ")", _ATOM
        if isinstance(value, T.Not):
            return "not " + self.operand(value.operand, lists, _PRECEDENCE["not"]), _PRECEDENCE["not"]
        if isinstance(value, T.BinOp):
            return self.binop(value, lists)
        if getattr(value, "span", None) is not None and value.span.line == value.span.end_line:
            return self.written(value.span), _ATOM  # a kind of value with no rule here: as it was written
        raise FormatError(f"no layout for {type(value).__name__}")

    def binop(self, value: T.BinOp, lists: int) -> tuple[str, int]:
        kind = value.op if value.op in _PRECEDENCE else "compare"
        own = _PRECEDENCE[kind]
        if kind == "compare":  # `sum COMPARE sum`: neither side may be a comparison or lower
            left = self.operand(value.left, lists, _PRECEDENCE["add"])
            right = self.operand(value.right, lists, _PRECEDENCE["add"])
        else:  # left-associative: a right operand of the same precedence needs parentheses
            left = self.operand(value.left, lists, own)
            right = self.operand(value.right, lists, own + 1)
        symbol = _SYMBOLS.get(value.op, value.op)
        joint = symbol if lists >= 2 and value.op in _COMPACT else f" {symbol} "
        return left + joint + right, own

    def operand(self, value, lists: int, least: int) -> str:
        text, precedence = self.write(value, lists)
        return text if precedence >= least else f"({text})"


# --- lines ----------------------------------------------------------------------------------

@dataclass
class _Line:
    """One output line: a statement's head, or a comment line (`stmt` None)."""

    depth: int
    stmt: T.Statement | None = None
    comment: str = ""           # the comment line's text, or the statement's trailing comment
    blank_before: bool = False
    word: str = ""
    first: str = ""             # the first argument or option, as written out
    first_kind: str = ""        # list, or other
    padded: bool = False        # the source has more than one space between the word and the first argument
    rest: list[str] = field(default_factory=list)
    separator: str = " "
    word_width: int = 0         # the word padded to this width (0: one space after it)
    first_width: int = 0        # the first argument padded to this width, where more follows

    def code(self) -> str:
        if self.stmt is None:
            return ""
        word = self.word.ljust(self.word_width - 1) if self.word_width else self.word
        first = self.first.ljust(self.first_width - 1) if self.first_width and self.rest else self.first
        parts = [first, *self.rest] if first else self.rest
        return word + (" " + self.separator.join(parts) if parts else "")

    def in_table(self) -> bool:
        return self.stmt is not None and not self.stmt.body and self.stmt.word not in KEYWORDS


@dataclass
class _Placed:
    """A statement in document order, with its depth and its and its ancestors' source columns."""

    stmt: T.Statement
    depth: int
    columns: tuple[int, ...]
    end_line: int


class _Layout:
    """Lays out one parsed spec: places statements and comments, then aligns tables and comments."""

    def __init__(self, spec: T.Spec):
        self.source_lines = spec.source.text.split("\n")
        self.values = _Values(self.source_lines)
        self.placed = list(_placed(spec.statements, 0, ()))
        self.starts = [p.stmt.span.line for p in self.placed]
        self.comments = _comments(self.source_lines)
        self.out: list[_Line] = []

    def lines(self) -> list[str]:
        self.place()
        self.top_level_blanks()
        for run in _runs(self.out):
            _align_table(run)
        widths = _comment_columns(self.out)
        text = []
        for line, width in zip(self.out, widths):
            if line.blank_before and text:
                text.append("")
            code = INDENT * line.depth + (line.code() if line.stmt is not None else line.comment)
            text.append(f"{code.ljust(width - 2)}  {line.comment}" if line.stmt is not None and line.comment
                        else code)
        return text

    # placing statements and comments in order

    def place(self) -> None:
        inside = {}  # comment line -> the statement whose head spans it
        trailing = {}
        for p in self.placed:
            for number in range(p.stmt.span.line, p.end_line):
                inside[number] = p
            trailing[p.end_line] = p
        hoisted: dict[int, list[str]] = {}
        events = []  # (line, order, payload)
        for number, (column, text) in self.comments.items():
            if number in trailing and column > 0 and self.source_lines[number - 1][:column].strip():
                continue
            if number in inside:
                hoisted.setdefault(id(inside[number]), []).append(text)
            else:
                events.append((number, 0, (column, text)))
        events += [(p.stmt.span.line, 1, p) for p in self.placed]
        events.sort(key=lambda e: e[:2])
        blank = _blank_counts(self.source_lines)
        last_end, previous = 0, None
        for number, _, payload in events:
            start = number
            gap = last_end > 0 and blank[start - 1] - blank[last_end] > 0
            if isinstance(payload, _Placed):
                comments = hoisted.get(id(payload), [])
                for i, text in enumerate(comments):
                    self.emit(_Line(payload.depth, comment=text), gap and i == 0, previous)
                stmt_gap = gap and not comments
                self.emit(self.statement_line(payload), stmt_gap, previous)
                previous = payload
                last_end = payload.end_line
            else:
                column, text = payload
                self.emit(_Line(self.comment_depth(number, column), comment=text), gap, previous)
                last_end = number

    def emit(self, line: _Line, gap: bool, previous: _Placed | None) -> None:
        opens = previous is not None and previous.stmt.body and self.out and self.out[-1].stmt is previous.stmt
        line.blank_before = gap and not (opens and line.depth > previous.depth)
        self.out.append(line)

    def comment_depth(self, number: int, column: int) -> int:
        """The depth of a comment line: the deepest block open at that point whose statements
        start at or left of the comment; between a statement and its block, the block's."""
        at = bisect.bisect_left(self.starts, number)
        after = self.placed[at] if at < len(self.placed) else None
        low = after.depth if after else 0
        if at == 0:
            return low
        prev = self.placed[at - 1]
        if after is not None and after.depth > prev.depth:
            return after.depth
        for depth in range(prev.depth, low - 1, -1):
            if prev.columns[depth] <= column:
                return depth
        return low

    def statement_line(self, p: _Placed) -> _Line:
        stmt = p.stmt
        items = sorted([*stmt.args, *stmt.options], key=lambda item: (item.span.line, item.span.col))
        declares = stmt.word in DECLARATIONS
        texts = [self.option(item, declares) if isinstance(item, T.Option) else self.values.text(item)
                 for item in items]
        if stmt.inputs:
            texts.append("from " + ", ".join(name.name for name in stmt.inputs))
        first_kind, padded = "", False
        if items:
            first, word = items[0], stmt.word_span
            first_kind = "list" if isinstance(first, T.ListValue) else "other"
            padded = first.span.line == word.end_line and first.span.col - word.end_col > 1
        trailing = self.comments.get(p.end_line)
        comment = trailing[1] if trailing and self.source_lines[p.end_line - 1][:trailing[0]].strip() else ""
        return _Line(p.depth, stmt, comment, word=stmt.word, first=texts[0] if items else "", first_kind=first_kind,
                     padded=padded, rest=texts[1:] if items else texts, separator="  " if declares else " ")

    def option(self, option: T.Option, declares: bool) -> str:
        value = self.values.text(option.value)
        return f"{option.name} = {value}" if declares else f"{option.name}={value}"

    def top_level_blanks(self) -> None:
        """One blank line before and after each top-level statement with a block, attached comments included."""
        previous, last_statement = None, -1
        for i, line in enumerate(self.out):
            if line.stmt is None:
                continue
            if not line.depth:
                if previous is not None and (previous.stmt.body or line.stmt.body) and line.word not in CONTINUATIONS:
                    self.blank_above(i, last_statement)
                previous = line
            last_statement = i

    def blank_above(self, i: int, last_statement: int) -> None:
        """A blank line between line i and the statement line before it (at `last_statement`),
        above the top-level comment lines just over line i, unless there is one already."""
        if any(line.blank_before for line in self.out[last_statement + 1:i + 1]):
            return
        first = i
        while first > last_statement + 1 and self.out[first - 1].depth == 0:
            first -= 1
        self.out[first].blank_before = True


def _placed(statements, depth: int, columns: tuple[int, ...]):
    for stmt in statements:
        own = columns + (stmt.word_span.col - 1,)
        yield _Placed(stmt, depth, own, _head_end_line(stmt))
        yield from _placed(stmt.body, depth + 1, own)


def _head_end_line(stmt: T.Statement) -> int:
    """The last line of a statement's head (its own span ends at the word where a block follows)."""
    spans = [stmt.word_span, *(item.span for item in (*stmt.args, *stmt.options, *stmt.inputs))]
    return max(span.end_line for span in spans)


def _comments(source_lines: list[str]) -> dict[int, tuple[int, str]]:
    """Line number -> (column of its `#`, the comment's text without trailing blanks). A `#`
    inside a quoted text (`"..."`, which ends on its line) opens no comment."""
    found = {}
    for number, line in enumerate(source_lines, 1):
        column = _comment_column(line)
        if column >= 0:
            found[number] = (column, line[column:].rstrip())
    return found


def _comment_column(line: str) -> int:
    quoted = False
    for column, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == "#" and not quoted:
            return column
    return -1


def _blank_counts(source_lines: list[str]) -> list[int]:
    """counts[n]: how many of the first n lines are blank."""
    counts = [0]
    for line in source_lines:
        counts.append(counts[-1] + (not line.strip()))
    return counts


# --- alignment ------------------------------------------------------------------------------

def _runs(lines: list[_Line]):
    """Maximal runs of consecutive sibling statement lines that may form a table."""
    run: list[_Line] = []
    for line in lines:
        joins = run and line.in_table() and line.depth == run[-1].depth and not line.blank_before
        if not joins:
            if run:
                yield run
            run = [line] if line.in_table() else []
        else:
            run.append(line)
    if run:
        yield run


def _align_table(run: list[_Line]) -> None:
    """Align a run's second column where its author aligned it, and what follows stage rows' lists."""
    rows = [line for line in run if line.first]
    if len(rows) >= 2 and any(line.padded for line in rows):
        width = max(len(line.word) for line in rows) + 2
        for line in rows:
            line.word_width = width
    tables = [line for line in rows if line.first_kind == "list"]
    if len(tables) >= 2:
        width = max(len(line.first) for line in tables) + 2
        for line in tables:
            line.first_width = width


def _comment_columns(lines: list[_Line]) -> list[int]:
    """For each line, the column its trailing comment starts at (0 where it has none): two
    spaces after the longest code with a trailing comment among the statement lines around it
    (up to a blank line or a comment line)."""
    widths = [0] * len(lines)
    group: list[int] = []

    def close():
        width = max((len(INDENT * lines[i].depth + lines[i].code()) for i in group), default=0) + 2
        for i in group:
            widths[i] = width
        group.clear()

    for i, line in enumerate(lines):
        if line.stmt is None or line.blank_before:
            close()
        if line.stmt is not None and line.comment:
            group.append(i)
    close()
    return widths
