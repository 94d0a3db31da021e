"""Indentation and bracket structure of a spec, checked before and during parsing."""

from __future__ import annotations

import re

from archdsl.diagnostics import Diagnostic, Label, Source, Span, error
from archdsl.syntax.lalr import Token

MAX_NESTING = 32
TAB_WIDTH = 8
_OPENERS = {"[": "]", "(": ")"}
_CLOSERS = {"]": "[", ")": "("}


#: how a token changes the bracket depth
_DEPTH = {"LSQB": 1, "LPAR": 1, "FUNC": 1, "RSQB": -1, "RPAR": -1}


class IndentError(Exception):
    def __init__(self, line: int, column: int, width: int):
        super().__init__(f"bad indentation at line {line}")
        self.line, self.column, self.width = line, column, width


class Indenter:
    """The post-lexer turning leading whitespace into _INDENT/_DEDENT tokens.

    Newlines inside brackets are dropped, so lists may span lines (the tables' lexers take `_NL`
    in every state for this: lalr.ALWAYS_ACCEPT).
    """

    def process(self, stream):
        levels = [0]
        depth = 0
        for token in stream:
            if token.type == "_NL":
                if depth == 0:
                    yield token
                    yield from self._indentation(token, levels)
                continue
            depth += _DEPTH.get(token.type, 0)
            yield token
        for _ in levels[1:]:
            yield Token("_DEDENT", "")

    @staticmethod
    def _indentation(token: Token, levels: list[int]):
        indent_text = token.value.rsplit("\n", 1)[-1] if "\n" in token.value else ""
        indent = len(indent_text.expandtabs(TAB_WIDTH))
        if indent > levels[-1]:
            levels.append(indent)
            yield token.at("_INDENT", indent_text)
            return
        while indent < levels[-1]:
            levels.pop()
            yield token.at("_DEDENT", indent_text)
        if indent != levels[-1]:
            raise IndentError(token.end_line, 1, len(indent_text))


_BRACKETS = re.compile(r'#[^\n]*|"[^"\n]*"|[][()]')


def check_brackets(source: Source) -> list[Diagnostic]:
    """Report unbalanced or too deeply nested brackets, pointing at where they opened."""
    stack: list[tuple[str, int]] = []
    for match in _BRACKETS.finditer(source.text):
        char, offset = match.group(), match.start()
        if char in _OPENERS:
            stack.append((char, offset))
            if len(stack) > MAX_NESTING:
                return [error("E0103", f"brackets nested deeper than {MAX_NESTING} levels",
                              _at(source, offset), "too deep", "stage tables need three levels; flatten the list")]
        elif char in _CLOSERS:
            if not stack or stack[-1][0] != _CLOSERS[char]:
                return [_stray_closer(source, char, offset, stack)]
            stack.pop()
    if stack:
        char, offset = stack[-1]
        return [error("E0103", f"unclosed `{char}`", _at(source, offset), "opened here",
                      f"add the matching `{_OPENERS[char]}`")]
    return []


def _stray_closer(source, char, offset, stack) -> Diagnostic:
    if not stack:
        return error("E0103", f"`{char}` closes nothing", _at(source, offset), "no bracket is open here",
                     f"remove it, or add the `{_CLOSERS[char]}` it should close")
    opener, open_offset = stack[-1]
    return error("E0103", f"`{char}` does not match the open `{opener}`", _at(source, offset),
                 f"expected `{_OPENERS[opener]}`", f"close the `{opener}` first",
                 (Label(_at(source, open_offset), "opened here"),))


def _at(source: Source, offset: int, width: int = 1) -> Span:
    """The span of `width` characters at `offset` in the source's text."""
    line = source.text.count("\n", 0, offset) + 1
    col = offset - source.text.rfind("\n", 0, offset)
    return Span(source, line, col, line, col + max(width, 1))


# --- limits on the size of what is parsed -------------------------------------------------

#: a spec's words and symbols (the largest bundled spec has about 250); parsing is linear in them
MAX_TOKENS = 20_000
#: characters in one name or number
MAX_WORD = 128
#: `+ - * //` in one expression (an expression is evaluated recursively)
MAX_OPERATORS = 64
#: indented blocks inside one another (the bundled specs use three)
MAX_BLOCK_DEPTH = 32

_SCAN = re.compile(r"""
    (?P<comment> \#[^\n]* )
  | (?P<string> "[^"\n]*" )
  | (?P<newline> \n (?: [ \t]* (?: \#[^\n]* )? \n )* (?P<indent> [ \t]* ) )
  | (?P<word> [A-Za-z0-9_.]+ )
  | (?P<operator> // | [-+*] )
  | (?P<symbol> [][(),=/] )
""", re.VERBOSE)  # anything else is no token at all: the lexer stops at the first such character


_BRACKET_DEPTH = {"[": 1, "(": 1, "]": -1, ")": -1}


def check_size(source: Source) -> list[Diagnostic]:
    """E0504 where the text passes a limit that keeps parsing fast and shallow: too many words
    and symbols, an overlong word, an overlong expression, blocks nested too deep.

    One linear scan, before the parser runs; it stops at the first limit passed. A text that
    cannot pass any limit (`_within_limits`) is not scanned.
    """
    if _within_limits(source.text):
        return []
    tokens = operators = depth = 0
    levels = [0]
    for match in _SCAN.finditer(source.text):
        kind, text = match.lastgroup, match.group()
        if kind == "comment":
            continue
        if kind == "newline":
            if depth == 0:
                operators = 0
                problem = _indentation(source, match, levels)
                if problem:
                    return [problem]
            continue
        tokens += 1
        operators = operators + 1 if kind == "operator" else (0 if text in ",[]=" else operators)
        depth += _BRACKET_DEPTH.get(text, 0)
        if tokens > MAX_TOKENS or len(text) > MAX_WORD or operators > MAX_OPERATORS:
            return [_over_limit(source, match, tokens, operators)]
    return []


#: where a limit might be passed: a word or a pattern longer than MAX_WORD, or a line indented as
#: deep as MAX_BLOCK_DEPTH + 1 levels could be (each level is indented further than the one before)
_MAYBE_OVER = re.compile(r'[A-Za-z0-9_.]{%d}|"[^"\n]{%d}|^ {%d}|^ *\t' % (MAX_WORD + 1, MAX_WORD - 1, MAX_BLOCK_DEPTH + 1),
                         re.MULTILINE)


def _within_limits(text: str) -> bool:
    """Whether `text` surely passes no limit, told without the scan: it has no more characters than
    MAX_TOKENS (a token takes at least one), no more operators in all than one expression may
    have, and nothing _MAYBE_OVER finds. Checking a spec of the usual size costs a few string
    searches, not a pass of the regular expression over every token."""
    operators = text.count("+") + text.count("-") + text.count("*") + text.count("//")
    return len(text) <= MAX_TOKENS and operators <= MAX_OPERATORS and _MAYBE_OVER.search(text) is None


def _over_limit(source: Source, match: re.Match, tokens: int, operators: int) -> Diagnostic:
    """E0504 for the limit this token passes. Spans are made only then: each counts the lines before it."""
    start, text = match.start(), match.group()
    if tokens > MAX_TOKENS:
        return error("E0504", f"the spec is too long to check: more than {MAX_TOKENS:,} words and symbols",
                     _at(source, start), "the limit is passed here",
                     "a spec describes one network; write repeated blocks as stage rows `[repeat, ...]`")
    if len(text) > MAX_WORD:
        return error("E0504", f"a name or number of {len(text):,} characters (at most {MAX_WORD})",
                     _at(source, start, len(text)), "too long", "is this the right file?")
    return error("E0504", f"an expression with more than {MAX_OPERATORS} operators", _at(source, start, len(text)),
                 "too long", "compute it once with `param NAME = ...` and use the name")


def _indentation(source: Source, match: re.Match, levels: list[int]) -> Diagnostic | None:
    """Follow the indentation levels the way the Indenter does; E0504 past MAX_BLOCK_DEPTH."""
    indent = match.group("indent")
    width = len(indent.expandtabs(TAB_WIDTH))
    if width > levels[-1]:
        levels.append(width)
        if len(levels) - 1 > MAX_BLOCK_DEPTH:
            return error("E0504", f"blocks nested deeper than {MAX_BLOCK_DEPTH} levels",
                         _at(source, match.start("indent"), len(indent)), "too deep",
                         "indent only the statements of a block (stages, scope, residual, concat, ...) "
                         "under it")
    while width < levels[-1]:
        levels.pop()
    return None
