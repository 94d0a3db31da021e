"""Text -> syntax tree, by the grammar's LALR tables (computed by lark: see archdsl.syntax.lalr).

Syntax errors are turned into diagnostics in the language's own words. After an
error the offending line is blanked and parsing resumes, so that one run reports
every broken line (up to a bound).
"""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache, partial

from archdsl.diagnostics import Diagnostic, Label, Source, Span, error
from archdsl.syntax import lalr
from archdsl.syntax import tree as T
from archdsl.syntax.lalr import Token, UnexpectedCharacter, UnexpectedToken
from archdsl.syntax.layout import IndentError, Indenter, check_brackets, check_size

MAX_INT_DIGITS = 9
MAX_SYNTAX_ERRORS = 20
#: text parsed again after syntax errors, in all: a long spec reports fewer of them, not slowly
MAX_REPARSE_CHARS = 200_000


@lru_cache(maxsize=1)
def _tables() -> lalr.Tables:
    """The parser's tables. Lark builds them from the grammar in a third of a `--check` process's
    start, so they are kept in the user's cache folder (lalr.cache_file), and a process that
    finds them there does not import lark."""
    return lalr.tables()


#: block libraries up to this long are remembered once parsed (the MAX_REMEMBERED used last): a
#: library that many specs `use` in one process (`archdsl compile --check specs/`), and that is
#: checked there itself, is parsed once
MAX_REMEMBERED_CHARS = 64 * 1024
MAX_REMEMBERED = 16
_remembered: OrderedDict[Source, tuple[T.Spec | None, tuple[Diagnostic, ...]]] = OrderedDict()


def parse(source: Source, remember: bool = False) -> tuple[T.Spec | None, list[Diagnostic]]:
    """Parse a spec. Returns the tree (None if the text has syntax errors) and diagnostics.
    A text remembered (parsed with `remember`, as a library is) is not parsed again."""
    found = _remembered.get(source)
    if found is not None:
        _remembered.move_to_end(source)
    else:
        tree, diagnostics = _parse(source)
        found = (tree, tuple(diagnostics))
        if remember and len(source.text) <= MAX_REMEMBERED_CHARS:
            _remembered[source] = found
            if len(_remembered) > MAX_REMEMBERED:
                _remembered.popitem(last=False)
    return found[0], list(found[1])  # the tree is immutable; each caller gets its own list


def _run_tables(text: str, reductions: dict):
    return _tables().run(text, reductions, Indenter().process)


def _parse(source: Source, run=_run_tables) -> tuple[T.Spec | None, list[Diagnostic]]:
    """The tree and diagnostics of `source`; `run(text, reductions)` parses one text, raising
    UnexpectedCharacter, UnexpectedToken or IndentError (the tables; the tests give lark's own)."""
    text = source.text if source.text.endswith("\n") else source.text + "\n"
    diagnostics = check_brackets(source) or check_size(source)
    if diagnostics:
        return None, diagnostics
    for attempt in range(MAX_SYNTAX_ERRORS):
        if attempt * len(text) > MAX_REPARSE_CHARS:  # each error costs a parse of the whole text
            break
        builder = _Builder(source)
        try:
            statements = run(text, builder.reductions())
        except (UnexpectedCharacter, UnexpectedToken, IndentError) as exc:
            diag, line = _syntax_diagnostic(source, exc)
            diagnostics.append(diag)
            if line is None:
                break
            text = _blank_line(text, line)
            continue
        if diagnostics:
            return None, diagnostics
        if builder.diagnostics:
            return None, builder.diagnostics
        return T.Spec(source, statements), []
    return None, diagnostics


def _blank_line(text: str, line: int) -> str:
    """The text with one line's characters turned to spaces, so every later offset still holds."""
    lines = text.split("\n")
    if 0 < line <= len(lines):
        lines[line - 1] = " " * len(lines[line - 1])
    return "\n".join(lines)


_TOKEN_WORDS = {
    "NAME": "a name", "INT": "a number", "FLOAT": "a number", "DIMS": "a size like 3x3",
    "STRIDE": "a stride like /2", "DASHED": "a name", "DOTTED": "a name", "FUNC": "a function",
    "COMPARE": "a comparison", "AND": "`and`", "OR": "`or`", "NOT": "`not`", "PERCENT": "`%`", "LSQB": "`[`", "RSQB": "`]`", "LPAR": "`(`", "RPAR": "`)`",
    "COMMA": "`,`", "EQUAL": "`=`", "PLUS": "`+`", "MINUS": "`-`", "STAR": "`*`",
    "SLASH": "`//`", "__ANON_0": "`//`", "FROM": "`from`", "_NL": "the end of the line",
    "_INDENT": "an indented line", "_DEDENT": "the end of the block", "$END": "the end of the file",
}
_LINE_ENDS = ("_NL", "_DEDENT", "$END")
_VALUE_STARTS = {"INT", "FLOAT", "NAME", "DIMS", "LSQB", "LPAR", "DOTTED", "FUNC", "NOT"}
_GENERIC_HELP = "see the statement forms in docs/language.md"
#: (message, label, help) for a `-` where a value starts: the language has no negative numbers
NEGATIVE = ("a number in a spec cannot be negative", "a minus sign before a value",
            "the language has no negative numbers: remove the `-`")


def _describe_expected(expected: set[str]) -> str:
    words = []
    if expected & _VALUE_STARTS:
        words.append("a value (a number, a name, a size like 3x3, or a [list])")
    for kind in ("RSQB", "RPAR", "COMMA", "EQUAL", "_NL"):
        if kind in expected:
            words.append(_TOKEN_WORDS[kind])
    return " or ".join(words[:3]) if words else "something else"


def _describe_token(token: Token) -> str:
    if token.type in ("_NL", "_INDENT", "_DEDENT", "$END"):
        return _TOKEN_WORDS[token.type]
    return f"`{token}`"


def _point(source: Source, line: int, col: int, width: int = 1) -> Span:
    return Span(source, line, col, line, col + max(width, 1))


def _syntax_diagnostic(source: Source, exc: Exception) -> tuple[Diagnostic, int | None]:
    """The diagnostic for a syntax error, and the line to blank before parsing again (None: stop)."""
    if isinstance(exc, IndentError):
        return error("E0104", "indentation does not match any enclosing block",
                     _point(source, exc.line, exc.column, exc.width), "this line",
                     _indent_help(source.line(exc.line))), exc.line
    if isinstance(exc, UnexpectedCharacter):
        return _unexpected_character(source, exc.line, exc.column), exc.line
    return _unexpected_token(source, exc), exc.token.line


_CHARACTER_HINTS = {
    "×": ("sizes are written with the letter x", "write `3x3`, not `3×3`"),
    ":": ("`:` is not part of the language", "a block is opened by indenting the lines under its statement"),
    '"': ("the language has no quoted strings", "write words bare, like `shortcut=proj`"),
    "'": ("the language has no quoted strings", "write words bare, like `shortcut=proj`"),
    ";": ("`;` is not part of the language", "write one statement per line"),
}


def _indent_help(line: str) -> str:
    indent = line[:len(line) - len(line.lstrip(" \t"))]
    if "\t" in indent:
        return "this line is indented with a tab, which counts as 8 columns; indent with spaces only"
    return "indent the line exactly as far as a line above it at the same level"


def _unexpected_character(source: Source, line: int, column: int) -> Diagnostic:
    text = source.line(line)
    char = text[column - 1:column] or "?"
    where = _point(source, line, column)
    if char == "/":
        spaced = text[column:].lstrip(" \t")[:1].isdigit()
        return error("E0101", "a stride is written `/N`, with no space" if spaced else "`/` without a stride",
                     where, "stride here", "write the stride like `/2`")
    if char in _CHARACTER_HINTS:
        message, help = _CHARACTER_HINTS[char]
        return error("E0101", message, where, "here", help)
    return error("E0101", f"unexpected character `{char}`", where, "not part of the language",
                 "names use letters, digits and `_`; comments start with `#`")


def _unexpected_token(source: Source, exc: UnexpectedToken) -> Diagnostic:
    token = exc.token
    line, col = token.line or 1, token.column or 1
    width = len(str(token)) if token.type not in ("_NL", "_INDENT", "_DEDENT", "$END") else 1
    where = _point(source, line, col, width)
    if token.type == "_INDENT":
        return error("E0104", "unexpected indentation", _point(source, line, 1), "indented here",
                     "only the lines of a block are indented; remove the indentation")
    if token.type == "SLASH":  # `/` where no division can be: a stride with a space, or a stray slash
        return _unexpected_character(source, line, col)
    before = _code_before(source.text, token.start_pos if token.start_pos is not None else len(source.text))
    depth = sum(before.count(c) for c in "[(") - sum(before.count(c) for c in "])")
    found = _known_mistake(token, before, depth, set(exc.expected))
    if found is not None:
        message, label, help = found
        return error("E0102", message, where, label, help)
    return error("E0102", f"unexpected {_describe_token(token)}", where,
                 f"expected {_describe_expected(set(exc.expected))}", _GENERIC_HELP)


def _code_before(text: str, offset: int) -> str:
    """The text before `offset`, comments removed (brackets and words only matter)."""
    return "\n".join(line.split("#", 1)[0] for line in text[:offset].split("\n"))


def _known_mistake(token: Token, before: str, depth: int, expected: set[str]):
    """(message, label, help) for the mistakes people make most, in the language's words."""
    line_start = before.rsplit("\n", 1)[-1].strip() == ""
    before = before.rstrip()
    last = before[-1:]
    if token.type in _LINE_ENDS:
        if last == "=":
            name = before[:-1].rstrip().rsplit(None, 1)[-1] if before[:-1].strip() else "option"
            return (f"option `{name}` has no value", "value missing",
                    "write the value right after `=`, like `pad=1` or `shortcut=proj`")
        if before.endswith("from") and not before[-5:-4].isalnum():
            return ("`from` names no values", "names missing",
                    "write it like `from a, b`, naming values defined above (or `input`)")
        if last in "+-*/" and last:
            return (f"the expression ends after `{last}`", "operand missing", "finish it, like `2 * width`")
        if last == ",":
            return ("the line ends after a `,`", "nothing follows", "remove the `,` or add what it separates")
        return ("the line ends in the middle of a statement", "expected more here", _GENERIC_HELP)
    if token.type == "MINUS":
        return NEGATIVE
    if token.type == "EQUAL":
        return ("`=` must follow an option name", "no option name before it",
                "options are written NAME=VALUE, like `pad=1`")
    if token.type == "COMMA" and depth == 0:
        return ("`,` outside a list", "unexpected", "separate arguments and options with spaces; commas "
                "separate the items of a [list] and the names after `from`")
    if depth > 0 and token.type in _VALUE_STARTS and "COMMA" in expected:
        return ("missing `,` between list items", "expected `,` before this",
                "separate list items with commas, like `[64, 1x1]`")
    if token.type == "STRIDE" and depth > 0:
        return (f"`{token}` inside brackets", "not a stride here",
                f"to divide, write `// {str(token)[1:]}` (whole-number division); a stride `/2` goes after a "
                "layer's sizes or a row's table")
    if token.type == "COMMA" and last in "[(,":
        return ("a list item is missing before this `,`", "nothing before it", "remove the extra `,`")
    if line_start and depth == 0 and token.type not in ("NAME", "DASHED", "INT"):
        return (f"a statement starts with a word, not {_describe_token(token)}", "expected a name or a layer type",
                "begin the line with a layer type or a name and a type, like `conv1 conv 64 7x7`")
    return None


class _Builder:
    """Builds the frozen syntax tree while the tables parse: each rule reduced calls its reduction
    with the rule's raw children (every token, brackets and line ends included), so no other tree
    is made. A rule's span runs from its first child's start to its last child's end;
    a parenthesised value keeps its own span, and its brackets count where it is a child."""

    def __init__(self, source: Source):
        self.source = source
        self.diagnostics: list[Diagnostic] = []

    def reductions(self) -> dict:
        """What each rule (or alias) of the grammar reduces to, for Tables.run."""
        found = {rule: getattr(self, rule) for rule in ("start", "statement", "body", "inputs", "option", "atom",
                                                        "call", "compare")}
        found.update({rule: getattr(self, f"{rule}_value") for rule in ("list", "tuple", "not")})
        found.update({op: partial(self.binary, op) for op in ("add", "sub", "mul", "floordiv", "truediv", "mod",
                                                              "or", "and")})
        found.update({kind: partial(self.token_child, kind) for kind in ("int", "float", "name", "dims", "stride",
                                                                         "string")})
        return found

    def token_child(self, kind: str, children) -> T.Value:
        return self.token_value(children[0], kind)

    def span(self, token: Token) -> Span:
        return Span(self.source, token.line, token.column, token.end_line, token.end_column)

    def extent(self, first, last) -> Span:
        """From the start of child `first` to the end of child `last` (tokens, values or brackets)."""
        a = first.open if isinstance(first, _Bracketed) else first
        b = last.close if isinstance(last, _Bracketed) else last
        if isinstance(a, Token):
            line, col = a.line, a.column
        else:
            line, col = a.span.line, a.span.col
        if isinstance(b, Token):
            return Span(self.source, line, col, b.end_line, b.end_column)
        return Span(self.source, line, col, b.span.end_line, b.span.end_col)

    def start(self, children) -> tuple[T.Statement, ...]:
        return tuple(c for c in children if isinstance(c, T.Statement))

    def statement(self, children) -> T.Statement:
        word = children[0]
        args, options, inputs, body, last = [], [], (), (), word
        for child in children[1:]:
            if isinstance(child, T.Option):
                options.append(child)
            elif isinstance(child, _Inputs):
                inputs = child.names
            elif isinstance(child, _Body):
                body = child.statements
            elif isinstance(child, Token):  # the line's end
                continue
            else:
                args.append(child.value if isinstance(child, _Bracketed) else child)
            last = child
        self.check_repeated_options(options)
        word_span = self.span(word)
        if body or last is word:  # a statement with a body: its head is reported as its word
            end = word_span
        elif isinstance(last, _Inputs):
            end = last.end
        else:
            end = (last.value if isinstance(last, _Bracketed) else last).span
        head = Span(self.source, word.line, word.column, end.end_line, end.end_col)
        return T.Statement(str(word), word_span, tuple(args), tuple(options), inputs, body, head)

    def body(self, children) -> "_Body":
        return _Body(tuple(c for c in children if isinstance(c, T.Statement)))

    def inputs(self, children) -> "_Inputs":
        names = tuple(T.Name(str(t), self.span(t)) for t in children[1::2])
        return _Inputs(names, names[-1].span)

    def check_repeated_options(self, options: list[T.Option]) -> None:
        first: dict[str, T.Option] = {}
        for option in options:
            if option.name in first:
                self.diagnostics.append(error(
                    "E0202", f"option `{option.name}` is given twice", option.span, "given again",
                    "keep one of them", (Label(first[option.name].span, "first given here"),)))
            first.setdefault(option.name, option)

    def option(self, children) -> T.Option:
        name, _, value = children
        return T.Option(str(name), self.span(name), _bare(value), self.extent(name, value))

    def atom(self, children) -> "_Bracketed":  # `( value )`
        opening, inner, closing = children
        return _Bracketed(_bare(inner), opening, closing)

    def call(self, children) -> T.Call:
        function = children[0]
        return T.Call(str(function)[:-1], tuple(_bare(a) for a in children[1:-1:2]),
                      self.extent(function, children[-1]), self.span(function))

    def compare(self, children) -> T.BinOp:
        left, op, right = children
        return T.BinOp(str(op), _bare(left), _bare(right), self.extent(left, right))

    def binary(self, kind: str, children) -> T.BinOp:
        left, _, right = children
        return T.BinOp(kind, _bare(left), _bare(right), self.extent(left, right))

    def not_value(self, children) -> T.Not:
        return T.Not(_bare(children[1]), self.extent(children[0], children[1]))

    def list_value(self, children) -> T.ListValue:
        return T.ListValue(tuple(_bare(c) for c in children[1:-1:2]), self.extent(children[0], children[-1]))

    def tuple_value(self, children) -> T.TupleValue:
        return T.TupleValue(tuple(_bare(c) for c in children[1:-1:2]), self.extent(children[0], children[-1]))

    def token_value(self, token: Token, kind: str):
        span = self.span(token)
        if kind == "name":
            return T.Name(str(token), span)
        if kind == "float":
            return T.Float(float(token.value), span)
        if kind == "string":
            return T.Str(str(token)[1:-1], span)
        digits = str(token).lstrip("/").split("x")
        if any(len(d) > MAX_INT_DIGITS for d in digits):
            self.diagnostics.append(error(
                "E0105", "number too large", span, f"at most {MAX_INT_DIGITS} digits",
                "sizes, channels and counts in a spec are at most 999999999"))
            digits = ["1" for _ in digits]
        if kind == "stride":
            return T.Stride(int(digits[0]), span)
        if kind == "dims":
            return T.Dims(tuple(int(d) for d in digits), span)
        return T.Int(int(digits[0]), span)


class _Bracketed:
    """A value written in brackets, `(a + b)`: the value, and the brackets that enclose it."""

    __slots__ = ("value", "open", "close")

    def __init__(self, value, opening: Token, closing: Token):
        self.value, self.open, self.close = value, opening, closing


class _Inputs:
    """`from a, b`: the names, and the span of the last (where the statement's head ends)."""

    __slots__ = ("names", "end")

    def __init__(self, names: tuple, end: Span):
        self.names, self.end = names, end


class _Body:
    __slots__ = ("statements",)

    def __init__(self, statements: tuple):
        self.statements = statements


def _bare(value):
    return value.value if isinstance(value, _Bracketed) else value
