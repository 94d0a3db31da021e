"""Indentation and bracket structure of a spec, checked before and during parsing."""

from __future__ import annotations

from lark import Token

from archdsl.diagnostics import Diagnostic, Label, Source, Span, error

MAX_NESTING = 32
TAB_WIDTH = 8
_OPENERS = {"[": "]", "(": ")"}
_CLOSERS = {"]": "[", ")": "("}


class IndentError(Exception):
    def __init__(self, line: int, column: int, width: int):
        super().__init__(f"bad indentation at line {line}")
        self.line, self.column, self.width = line, column, width


class Indenter:
    """A lark post-lexer turning leading whitespace into _INDENT/_DEDENT tokens.

    Newlines inside brackets are dropped, so lists may span lines.
    """

    always_accept = ("_NL",)

    def process(self, stream):
        levels = [0]
        depth = 0
        for token in stream:
            if token.type == "_NL":
                if depth == 0:
                    yield token
                    yield from self._indentation(token, levels)
                continue
            depth += {"LSQB": 1, "LPAR": 1, "RSQB": -1, "RPAR": -1}.get(token.type, 0)
            yield token
        for _ in levels[1:]:
            yield Token("_DEDENT", "")

    @staticmethod
    def _indentation(token: Token, levels: list[int]):
        indent_text = token.rsplit("\n", 1)[-1] if "\n" in token else ""
        indent = len(indent_text.expandtabs(TAB_WIDTH))
        if indent > levels[-1]:
            levels.append(indent)
            yield Token.new_borrow_pos("_INDENT", indent_text, token)
            return
        while indent < levels[-1]:
            levels.pop()
            yield Token.new_borrow_pos("_DEDENT", indent_text, token)
        if indent != levels[-1]:
            raise IndentError(token.end_line, 1, len(indent_text))


def check_brackets(source: Source) -> list[Diagnostic]:
    """Report unbalanced or too deeply nested brackets, pointing at where they opened."""
    stack: list[tuple[str, int, int]] = []
    for line_no, line in enumerate(source.text.splitlines(), start=1):
        for col, char in enumerate(line.split("#", 1)[0], start=1):
            if char in _OPENERS:
                stack.append((char, line_no, col))
                if len(stack) > MAX_NESTING:
                    return [error("E0103", f"brackets nested deeper than {MAX_NESTING} levels",
                                  _at(source, line_no, col), "too deep",
                                  "stage tables need three levels; flatten the list")]
            elif char in _CLOSERS:
                if not stack or stack[-1][0] != _CLOSERS[char]:
                    return [_stray_closer(source, char, line_no, col, stack)]
                stack.pop()
    if stack:
        char, line_no, col = stack[-1]
        return [error("E0103", f"unclosed `{char}`", _at(source, line_no, col), "opened here",
                      f"add the matching `{_OPENERS[char]}`")]
    return []


def _stray_closer(source, char, line_no, col, stack) -> Diagnostic:
    if not stack:
        return error("E0103", f"`{char}` closes nothing", _at(source, line_no, col), "no bracket is open here",
                     f"remove it, or add the `{_CLOSERS[char]}` it should close")
    opener, open_line, open_col = stack[-1]
    return error("E0103", f"`{char}` does not match the open `{opener}`", _at(source, line_no, col),
                 f"expected `{_OPENERS[opener]}`", f"close the `{opener}` first",
                 (Label(_at(source, open_line, open_col), "opened here"),))


def _at(source: Source, line: int, col: int) -> Span:
    return Span(source, line, col, line, col + 1)
