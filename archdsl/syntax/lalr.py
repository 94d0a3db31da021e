"""Lark's LALR tables for the grammar, and the small loop that runs them.

Lark reads grammar.lark and computes everything a parser needs: the LALR(1) action table, each
rule's shape, and for every parser state the contextual lexer's terminal patterns (in lark's
order), its ignored and line-breaking terminals and the keywords a NAME turns into there. Those
tables are kept as JSON in the user's cache folder, so a process whose tables are cached runs
them here without importing lark: `Tables.run` lexes as lark's contextual lexer does and
reduces as lark's tree builder does with a transformer, calling the parse's reductions directly.
tests/test_parser_tables.py checks it against lark's own parser on every spec and on mutated
texts: the same trees, the same errors.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from functools import partial
from importlib import resources
from typing import Callable, Iterable, Iterator

#: what the tables' file holds; a file in another format is built again
FORMAT = 1
#: lark's options for the grammar (the same in the tables and in the reference parser of the tests)
LARK_OPTIONS = {"parser": "lalr", "lexer": "contextual", "keep_all_tokens": True, "maybe_placeholders": False}
#: terminals the post-lexer always takes, whatever the state (lark's `postlex.always_accept`)
ALWAYS_ACCEPT = ("_NL",)


class Token:
    """A terminal of the text: its type, its characters, and where it starts and ends (lines and
    columns from 1, the end exclusive). Tokens the layout makes (`_INDENT`, `_DEDENT`) may have none."""

    __slots__ = ("type", "value", "start_pos", "line", "column", "end_line", "end_column")

    def __init__(self, type: str, value: str, start_pos=None, line=None, column=None, end_line=None,
                 end_column=None):
        self.type, self.value, self.start_pos = type, value, start_pos
        self.line, self.column, self.end_line, self.end_column = line, column, end_line, end_column

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {self.value!r})"

    def at(self, type: str, value: str) -> "Token":
        """A token of another type and text at this one's place."""
        return Token(type, value, self.start_pos, self.line, self.column, self.end_line, self.end_column)


class UnexpectedCharacter(Exception):
    """No terminal of the language starts at (line, column)."""

    def __init__(self, line: int, column: int):
        super().__init__(f"unexpected character at line {line}, column {column}")
        self.line, self.column = line, column


class UnexpectedToken(Exception):
    """`token` cannot come here; `expected` names the terminals that could."""

    def __init__(self, token: Token, expected: set[str]):
        super().__init__(f"unexpected {token!r}")
        self.token, self.expected = token, expected


class _Inline(list):
    """The children of a rule whose name starts with `_`: spliced into the rule that holds it."""


#: how a rule reduces (the numbers the tables' file holds)
_PASS, _INLINE, _CALL, _EXPAND = range(1, 5)


class Tables:
    """The grammar's LALR tables, as lark computed them (see `tables()`)."""

    def __init__(self, data: dict):
        self.start, self.end = data["start"], data["end"]
        self.states: list[dict[str, int]] = data["states"]  # a shift to state s is s, a reduction by rule r is ~r
        self.rules: list[tuple] = [tuple(rule) for rule in data["rules"]]
        self.lexers = [_StateLexer(**lexer) for lexer in data["lexers"]]
        self.state_lexer: list[int] = data["state_lexer"]
        self.root = self.lexers[data["root"]]
        #: (state below, state, next terminal) -> the state after the rules that pass a value on
        self._passes: dict[tuple[int, int, str], int] = {}

    def run(self, text: str, reductions: dict[str, Callable], layout: Callable[[Iterator[Token]], Iterable[Token]]):
        """Parse `text`: each reduction calls `reductions[name](children)`, children being every
        token and value of the rule (rules named `_...` spliced in); `layout` turns the lexer's
        tokens into the parser's (indentation). Raises UnexpectedCharacter or UnexpectedToken."""
        states, rules, stack, values = self.states, self.rules, [self.start], []
        token = None
        for token in layout(self._tokens(text, stack)):
            self._feed(token, stack, values, reductions, states, rules)
        end = token.at("$END", "") if token is not None else Token("$END", "", 0, 1, 1, 1, 1)
        self._feed(end, stack, values, reductions, states, rules)
        return values[-1]

    def _feed(self, token, stack, values, reductions, states, rules) -> None:
        kind = token.type
        while True:
            action = states[stack[-1]].get(kind)
            if action is None:
                raise UnexpectedToken(token, {k for k in states[stack[-1]] if k.isupper()})
            if action >= 0:
                stack.append(action)
                values.append(token)
                return
            origin, size, how, name, spliced = rules[~action]
            if how == _PASS:  # `?rule: other`, one child: the value stays, the state moves
                key = (stack[-2], stack[-1], kind)
                top = self._passes.get(key)
                if top is None:
                    top = self._passes[key] = self._pass(stack[-2], origin, kind)
                stack[-1] = top
                continue
            children = values[-size:] if size else []
            if size:
                del stack[-size:]
                del values[-size:]
            if spliced:
                children = _splice(children, spliced)
            if how == _INLINE:
                value = children if type(children) is _Inline else _Inline(children)
            elif how == _EXPAND and len(children) == 1:
                value = children[0]
            else:
                value = reductions[name](children)
            goto = states[stack[-1]][origin]
            stack.append(goto)
            values.append(value)
            if goto == self.end:  # the start rule, reduced at the end of the text
                return

    def _pass(self, below: int, origin: str, kind: str) -> int:
        """The state after reducing to `origin` over state `below`, and then by every rule that
        only passes its one child on (`sum` to `comparison` to ... to `value`) with `kind` next."""
        top = self.states[below][origin]
        while True:
            action = self.states[top].get(kind)
            if action is None or action >= 0 or self.rules[~action][2] != _PASS:
                return top
            top = self.states[below][self.rules[~action][0]]

    def _tokens(self, text: str, stack: list[int]) -> Iterator[Token]:
        """The terminals of `text`, each lexed with the terminals the parser's state then takes."""
        pos, line, line_start, end = 0, 1, 0, len(text)
        lexers, state_lexer = self.lexers, self.state_lexer
        while pos < end:
            lexer = lexers[state_lexer[stack[-1]]]
            match = lexer.match(text, pos)
            if match is None:
                self._no_terminal(lexer, text, pos, line, pos - line_start + 1)
            value, kind = match.group(), match.lastgroup
            start, first_line, column = pos, line, pos - line_start + 1
            if kind in lexer.newline:
                breaks = value.count("\n")
                if breaks:
                    line += breaks
                    line_start = pos + value.rindex("\n") + 1
            pos = match.end()
            if kind in lexer.ignore:
                continue
            if kind in lexer.keywords:
                kind = lexer.keywords[kind].get(value, kind)
            yield Token(kind, value, start, first_line, column, line, pos - line_start + 1)

    def _no_terminal(self, lexer: "_StateLexer", text: str, pos: int, line: int, column: int):
        """What lark's contextual lexer raises where no terminal of the state matches: the terminal
        of the whole language found there, as unexpected; else the character."""
        root, at = self.root, column
        while pos < len(text):
            match = root.match(text, pos)
            if match is None:
                break
            if match.lastgroup in root.ignore:  # spaces and comments: no line breaks
                pos, at = match.end(), at + len(match.group())
                continue
            kind, value = match.lastgroup, match.group()
            kind = root.keywords.get(kind, {}).get(value, kind)
            raise UnexpectedToken(Token(kind, value, pos, line, at, line, at + len(value)), lexer.expected)
        raise UnexpectedCharacter(line, column)


def _splice(children: list, spliced: tuple[int, ...]) -> list:
    """`children` with the values of inlined rules (at the positions `spliced`) spread out. A
    repetition (`statement*`) is a left-recursive inlined rule: its list so far comes first and
    is grown in place (nothing else holds it), so a long one is not copied at every item."""
    if spliced[0] == 0:
        out, rest = children[0], range(1, len(children))
    else:
        out, rest = [], range(len(children))
    for i in rest:
        if i in spliced:
            out.extend(children[i])
        else:
            out.append(children[i])
    return out


class _StateLexer:
    """One contextual lexer: its patterns in lark's order (each a regular expression of named
    groups, tried in turn), the terminals it skips, those that may hold a line break, and the
    keywords a terminal's text turns into (`from` is FROM, not NAME, where FROM can come)."""

    def __init__(self, patterns: list[str], ignore: list[str], newline: list[str], keywords: dict,
                 expected: list[str]):
        self.patterns = patterns
        self.ignore, self.newline = frozenset(ignore), frozenset(newline)
        self.keywords: dict[str, dict[str, str]] = keywords
        self.expected = set(expected)

    def match(self, text: str, pos: int):
        """The first pattern's match at `pos`, or None. The patterns are compiled at the first call,
        which then puts the matcher in this method's place (a lone pattern's own `match`, as a
        state's patterns almost always are): a parse calls it once a token."""
        compiled = [re.compile(p) for p in self.patterns]
        if len(compiled) == 1:
            self.match = compiled[0].match
        else:
            self.match = partial(_first_match, compiled)
        return self.match(text, pos)


def _first_match(compiled: list, text: str, pos: int):
    for pattern in compiled:
        found = pattern.match(text, pos)
        if found:
            return found
    return None


# --- building the tables with lark, and keeping them ---------------------------------------

def grammar_text() -> str:
    return resources.files("archdsl.syntax").joinpath("grammar.lark").read_text()


def tables() -> Tables:
    """The grammar's tables: read from the cache (see cache_file) where a file made from this
    grammar in this format is there, else built with lark and kept."""
    grammar = grammar_text()
    path = cache_file(grammar)
    if path is not None:
        try:
            with open(path, encoding="utf-8") as f:
                return Tables(json.load(f))
        except (OSError, ValueError, KeyError, TypeError, re.error):
            pass
    data = build(grammar)
    if path is not None:
        _write(path, data)
    return Tables(data)


def _write(path: str, data: dict) -> None:
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(temporary, path)  # another process reading it never sees half a file
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass


def cache_file(grammar: str) -> str | None:
    """Where the tables are kept: `$XDG_CACHE_HOME/archdsl` (default `~/.cache/archdsl`), a file
    named after the grammar, lark's options and the file's format; None where that folder cannot
    be made, or ARCHDSL_NO_CACHE is set. Nothing is written inside the installed package. (Lark's
    version is not in the name: finding it costs an import, and tables another version of lark
    made for this grammar parse the same language.)"""
    if os.environ.get("ARCHDSL_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    folder = os.path.join(base, "archdsl")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None
    key = f"{grammar}\n{LARK_OPTIONS}\n{FORMAT}"
    return os.path.join(folder, f"grammar-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json")


class _LayoutForLark:
    """What lark needs to know of the layout (syntax.layout.Indenter) to build the tables."""

    always_accept = ALWAYS_ACCEPT

    def process(self, stream):
        return stream


def build(grammar: str) -> dict:
    """The tables, computed by lark from `grammar`."""
    from lark import Lark
    from lark.parsers.lalr_analysis import Shift

    parser = Lark(grammar, postlex=_LayoutForLark(), **LARK_OPTIONS)
    table = parser.parser.parser.parser.parse_table
    rules = {rule: i for i, rule in enumerate(parser.rules)}
    count = len(table.states)
    if sorted(table.states) != list(range(count)):
        raise AssertionError("lark's parse table is not numbered 0..n-1")
    states = [{kind: (arg if action is Shift else ~rules[arg]) for kind, (action, arg) in table.states[s].items()}
              for s in range(count)]
    contextual = parser.parser.lexer.lexer
    lexers, index, state_lexer = [], {}, []
    for s in range(count):
        state_lexer.append(_lexer_index(contextual.lexers[s], lexers, index))
    return {"format": FORMAT, "start": table.start_states["start"], "end": table.end_states["start"],
            "states": states, "rules": [_rule(rule) for rule in parser.rules], "lexers": lexers,
            "state_lexer": state_lexer, "root": _lexer_index(contextual.root_lexer, lexers, index)}


def _lexer_index(lexer, lexers: list, index: dict) -> int:
    if id(lexer) not in index:
        index[id(lexer)] = len(lexers)
        lexers.append(_lexer(lexer))
    return index[id(lexer)]


def _lexer(lexer) -> dict:
    """One of lark's basic lexers, as `_StateLexer` takes it."""
    from lark.lexer import PatternStr, UnlessCallback

    scanner = lexer.scanner  # built on first use: lark's order of the terminals, and the keywords
    keywords = {}
    for kind, callback in lexer.callback.items():
        if not isinstance(callback, UnlessCallback):
            raise AssertionError(f"lark's lexer has a callback the tables cannot hold: {kind}")
        words = callback.scanner.terminals
        if any(not isinstance(t.pattern, PatternStr) or t.pattern.flags for t in words):
            raise AssertionError(f"a keyword of {kind} is not a plain word")
        keywords[kind] = {t.pattern.value: t.name for t in words}
    allowed = (scanner.allowed_types - lexer.ignore_types) or {"<END-OF-FILE>"}
    return {"patterns": [compiled.pattern for compiled in scanner._mres], "ignore": sorted(lexer.ignore_types),
            "newline": sorted(lexer.newline_types), "keywords": keywords, "expected": sorted(allowed)}


def _rule(rule) -> list:
    """(origin, size, how it reduces, the reduction's name, the children's places to splice):
    lark's tree builder with a transformer, for this rule."""
    origin, size = rule.origin.name, len(rule.expansion)
    spliced = [i for i, symbol in enumerate(rule.expansion) if not symbol.is_term and symbol.name.startswith("_")]
    name = rule.alias or rule.origin.name
    if origin.startswith("_"):
        how = _INLINE
    elif rule.options.expand1 and not rule.alias:
        how = _PASS if size == 1 and not spliced else _EXPAND
    else:
        how = _CALL
    return [origin, size, how, name, spliced]
