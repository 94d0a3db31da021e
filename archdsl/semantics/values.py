"""Evaluating argument values: parameters, arithmetic, and conversion to what an op needs.

Conversions raise :class:`Invalid` with a ready diagnostic; the statement that
asked is then skipped and the rest of the spec is still checked.
"""

from __future__ import annotations

import math
import numbers
import operator
import re
from typing import Callable

from archdsl.diagnostics import Diagnostic, Span, did_you_mean, error
from archdsl.semantics.functions import FUNCTIONS
from archdsl.semantics.values_base import is_number
from archdsl.syntax import tree as T

MAX_VALUE = 10**9
LOGIC = ("and", "or")
COMPARISONS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
               ">=": operator.ge}
ARITHMETIC = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "floordiv": operator.floordiv,
              "truediv": operator.truediv, "mod": operator.mod}
SWITCH = ("true", "false")
WORDS = (*SWITCH, "same", "valid", "none", "first", "auto", "identity", "proj", "avgdown", "relu")


class Invalid(Exception):
    """A value that cannot be used; carries the diagnostic to report."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


class Unknown(Exception):
    """A value that cannot be worked out because of an error already reported (a size left
    unknown, a `let` that failed): the statement that needs it is skipped without a word."""


#: the value of a name whose definition failed
UNKNOWN = object()


def invalid(code: str, message: str, span: Span, label: str = "", help: str = "", notes=()) -> Invalid:
    return Invalid(error(code, message, span, label, help, notes))


#: `pair`'s default for a value not yet evaluated
_NOT_YET = object()
#: a name that is no parameter
_ABSENT = object()


class Evaluator:
    """Evaluates syntax values against the spec's parameters (and, in a block, its arguments and
    `let` values). `properties` answers `x.channels`-style names: (value name, property, span) ->
    the number, raising Invalid when there is none."""

    def __init__(self, params: dict[str, object], properties: Callable | None = None):
        self.params = params
        self.properties = properties

    def child(self, params: dict[str, object]) -> "Evaluator":
        """An evaluator over `params` that reads properties as this one does."""
        return Evaluator(params, self.properties)

    def eval(self, value):
        evaluate = _EVALUATE.get(type(value))
        if evaluate is None:
            raise AssertionError(f"unknown syntax value {value!r}")
        return evaluate(self, value)

    def _number(self, value: T.Float):
        return _finite(value.value, value.span)

    def _operation(self, value: T.BinOp):
        if value.op in LOGIC:
            return self._logic(value)
        if value.op in COMPARISONS:
            return self._compare(value)
        return self._binop(value)

    def _not(self, value: T.Not) -> bool:
        return not self.truth(value.operand, "`not`")

    def _items(self, value: T.ListValue | T.TupleValue) -> list:
        return [self.eval(v) for v in value.items]

    def _quoted(self, value: T.Str):
        raise invalid("E0101", "quoted text is for patterns only", value.span, "not a value here",
                      "write words bare, like `shortcut=proj`; quotes hold the axis patterns of `rearrange`, "
                      '`reduce` and `tensor`, and a row\'s `names="layer_{i}"`')

    def _name(self, value: T.Name):
        found = self.params.get(value.name, _ABSENT)
        if found is not _ABSENT:
            if found is UNKNOWN:
                raise Unknown()
            return found
        if "." in value.name:
            return self._property(value)
        if value.name in WORDS:
            return value.name
        hint = did_you_mean(value.name, self.params) or "declare it with `param NAME = VALUE`"
        if after_double_slash(value.span):
            hint = COMMENT_HINT
        raise invalid("E0205", f"unknown parameter `{value.name}`", value.span, "not defined", hint)

    def _binop(self, value: T.BinOp):
        left, right = self.eval(value.left), self.eval(value.right)
        if not (isinstance(left, (int, float)) and isinstance(right, (int, float))) \
                or isinstance(left, bool) or isinstance(right, bool):  # numbers, and true/false are not
            raise invalid("E0209", "arithmetic needs numbers", value.span, "not a number",
                          "only numbers and numeric parameters can be combined with + - * / // %")
        if value.op in ("floordiv", "truediv") and right == 0:
            raise invalid("E0209", "division by zero", value.span, "divides by 0",
                          "check the value of the divisor's parameter")
        if value.op == "mod" and right == 0:
            raise invalid("E0209", "remainder of a division by zero", value.span, "divides by 0",
                          "check the value of the divisor's parameter")
        return _finite(ARITHMETIC[value.op](left, right), value.span, MAX_VALUE)

    def truth(self, value, what: str) -> bool:
        """`value` as a condition: true or false (a comparison, `and`, `or`, `not`, or a true/false
        parameter); E0221 for anything else."""
        result = self.word(value)
        if isinstance(result, bool):
            return result
        if result in SWITCH:
            return result == "true"
        raise invalid("E0221", f"{what} needs true or false", value.span, f"got {show(result)}",
                      "compare values to make a condition, like `stride == 1` or `expand != 1`")

    def _logic(self, value: T.BinOp) -> bool:
        left = self.truth(value.left, f"`{value.op}`")
        if left == (value.op == "or"):  # decided by the left side, as Python does
            return left
        return self.truth(value.right, f"`{value.op}`")

    def _compare(self, value: T.BinOp) -> bool:
        left, right = self.word(value.left), self.word(value.right)
        if value.op in ("==", "!="):
            same = show(left) == show(right) if isinstance(left, str) or isinstance(right, str) else left == right
            return same if value.op == "==" else not same
        if not all(is_number(v) for v in (left, right)):
            raise invalid("E0209", f"`{value.op}` compares numbers", value.span, "not numbers",
                          "words and sizes are compared with == and != only")
        return COMPARISONS[value.op](left, right)

    def _call(self, value: T.Call):
        entry = FUNCTIONS.get(value.function)
        if entry is None:
            hint = did_you_mean(value.function, FUNCTIONS) or "functions: " + ", ".join(FUNCTIONS)
            raise invalid("E0220", f"unknown function `{value.function}`", value.function_span,
                          "not a function", hint)
        function, fewest, most, _ = entry
        if not fewest <= len(value.args) <= most:
            count = str(fewest) if fewest == most else f"{fewest} to {most}"
            raise invalid("E0220", f"`{value.function}` takes {count} argument{'s' * (most > 1)}, "
                          f"not {len(value.args)}", value.span, "wrong number of arguments", _usage(value.function))
        args = [list(v) if isinstance(v, tuple) else v for v in map(self.eval, value.args)]  # a size's sides
        bad = next((a for a, v in zip(value.args, args) if not (is_number(v) or isinstance(v, list))), None)
        if bad is not None:
            raise invalid("E0209", f"`{value.function}` needs numbers", bad.span, "not a number",
                          _usage(value.function))
        try:
            result = function(*args)
        except (ValueError, TypeError) as exc:
            raise invalid("E0209", f"`{value.function}`: {exc}", value.span, "cannot be worked out",
                          _usage(value.function)) from None
        return _finite(result, value.span, MAX_VALUE)

    def _property(self, value: T.Name):
        owner, _, prop = value.name.partition(".")
        if self.properties is None:
            raise invalid("E0205", f"unknown parameter `{value.name}`", value.span, "not defined",
                          "`NAME.channels`, `.height` and `.width` read a value's size inside a block")
        return self.properties(owner, prop, value.span)

    # --- conversions -------------------------------------------------------

    def int_(self, value, what: str, minimum: int = 1, maximum: int | None = None) -> int:
        result = self.eval(value)
        if not isinstance(result, int) or isinstance(result, bool):
            raise invalid("E0209", f"{what} must be a whole number", value.span, f"got {show(result)}",
                          "write a whole number, like 64; `//` divides without a remainder")
        if result < minimum:
            raise invalid("E0209", f"{what} must be at least {minimum}", value.span, f"got {result}",
                          f"use {minimum} or more")
        if maximum is not None and result > maximum:
            raise invalid("E0209", f"{what} must be at most {maximum}", value.span, f"got {result}",
                          f"use {maximum} or less")
        return result

    def float_(self, value, what: str) -> float:
        result = self.eval(value)
        if not isinstance(result, (int, float)) or isinstance(result, bool) or result < 0:
            raise invalid("E0209", f"{what} must be a non-negative number", value.span, f"got {show(result)}",
                          "write a number of 0 or more, like 1e-5")
        return float(result)

    def word(self, value):
        """The value of an option that takes a word: a name that is not a parameter reads as
        itself, so `shortcut=avgpool` is reported as a bad choice, not an unknown parameter."""
        if isinstance(value, T.Name) and value.name not in self.params and "." not in value.name:
            return value.name
        return self.eval(value)

    def bool_(self, value, what: str) -> bool:
        result = self.word(value)
        if isinstance(result, bool):
            return result
        if result in ("true", "false"):
            return result == "true"
        raise invalid("E0209", f"{what} must be true or false", value.span, f"got {show(result)}",
                      did_you_mean(show(result), ("true", "false")) or f"write {what}=true or {what}=false")

    def pair(self, value, what: str, minimum: int = 1, evaluated=_NOT_YET) -> tuple[int, int]:
        """A size given as `3`, `3x3` or `(3,3)`; `evaluated`: the value of `value`, where the
        caller has worked it out already."""
        if isinstance(value, T.BinOp) and value.op == "mul" and all(
                isinstance(side, T.Int) for side in (value.left, value.right)):
            a, b = value.left.value, value.right.value
            raise invalid("E0209", f"`{a}*{b}` multiplies out to {a * b}, not a size", value.span,
                          f"{what} {a * b}x{a * b}?", f"a size is written `{a}x{b}`")
        written = self.eval(value) if evaluated is _NOT_YET else evaluated
        result = (written, written) if isinstance(written, int) and not isinstance(written, bool) else written
        if (not isinstance(result, (list, tuple)) or len(result) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in result)):
            raise invalid("E0209", f"{what} must be a size like 3x3", value.span, f"got {show(result)}",
                          "write one number for a square (3), or height x width (3x3 or (3,3))")
        if min(result) < minimum:
            raise invalid("E0209", f"{what} must be at least {minimum}", value.span, f"got {show(written)}",
                          f"each side is {minimum} or more")
        return tuple(result)

    def choice(self, value, what: str, choices: tuple[str, ...]) -> str:
        result = self.word(value)
        shown = show(result)
        if shown not in choices:
            hint = did_you_mean(shown, choices) or "choose one of " + ", ".join(choices)
            raise invalid("E0209", f"{what} must be one of {', '.join(choices)}", value.span, f"got {shown}", hint)
        return shown


#: how each kind of syntax value is evaluated (by its exact class: a dict lookup, not a chain of isinstance);
#: a whole number is at most 9 digits (the parser's limit), so only a written float can be too large
_EVALUATE = {T.Int: lambda self, value: value.value, T.Float: Evaluator._number, T.Name: Evaluator._name,
             T.BinOp: Evaluator._operation, T.Not: Evaluator._not, T.Call: Evaluator._call,
             T.Dims: lambda self, value: value.values, T.ListValue: Evaluator._items, T.TupleValue: Evaluator._items,
             T.Stride: lambda self, value: value.value, T.Str: Evaluator._quoted}


def _finite(number, span: Span, maximum: float = math.inf):
    """`number` if it is finite (1e999 reads as infinity) and at most `maximum` in size."""
    if not math.isfinite(number) or abs(number) > maximum:
        label = f"{number} is over {MAX_VALUE}" if math.isfinite(number) else "too large for a number"
        raise invalid("E0105", "number too large", span, label,
                      "sizes, channels and counts in a spec are at most 999999999")
    return number


def show(value) -> str:
    """A value as the spec writes it: `3x3`, `true`, `relu`."""
    if isinstance(value, (list, tuple)):
        return "x".join(map(str, value)) if all(isinstance(v, int) for v in value) else str(list(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- values given from outside the spec (-D NAME=VALUE, keyword arguments) ---------------

_SIZE_TEXT = re.compile(r"[0-9]{1,9}(?:x[0-9]{1,9})+")


def parse_literal(text: str):
    """A `-D` value read as the spec would read it: true/false, a whole number, a number,
    a size like `5x5`, or a word (anything else, kept as it is written)."""
    text = text.strip()
    if text in SWITCH:
        return text == "true"
    if _SIZE_TEXT.fullmatch(text):
        return tuple(int(side) for side in text.split("x"))
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def param_kind(default) -> str:
    """The kind of value a parameter declared with `default` takes, in the language's words."""
    if _is_switch(default):
        return "true or false"
    if is_whole(default):
        return "a whole number"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, str):
        return "a word"
    return f"a size of {len(default)} numbers" if _is_size(default) else "a list"


def override(value, default):
    """`value`, set from outside the spec (`-D` text, or a Python value), as a value of the
    kind `default` has; None if it is not one. Text is read by :func:`parse_literal`;
    true/false is kept as the spec keeps it, as the word. A list other than a size can only
    be given its own value (`build(graph)` passes the graph's parameters back)."""
    if isinstance(value, str):
        value = parse_literal(value)
    if _is_switch(default):
        return show(value) if isinstance(value, bool) else None
    if is_whole(default):
        return int(value) if is_whole(value) and abs(value) <= MAX_VALUE else None
    if isinstance(default, float):
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
        return float(value) if ok else None
    if isinstance(default, str):
        return value if isinstance(value, str) and value.isascii() and value.isidentifier() else None
    if not isinstance(value, (list, tuple)) or len(value) != len(default):
        return None
    if not _is_size(default):
        return default if list(value) == list(default) else None
    sides_ok = all(is_whole(side) and 0 <= side <= MAX_VALUE for side in value)
    return tuple(int(side) for side in value) if sides_ok else None


def _is_switch(value) -> bool:
    """true or false: a Python bool, or the word as the spec writes it."""
    return isinstance(value, bool) or (isinstance(value, str) and value in SWITCH)


def is_whole(value) -> bool:
    """A whole number (a Python or numpy integer), not true/false."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_size(value) -> bool:
    """A size: two or more whole numbers (`3x3`, `(3,3)`, `3x224x224`)."""
    return isinstance(value, (list, tuple)) and len(value) >= 2 and all(map(is_whole, value))


#: the help for words after a `//` that reads like a C or C++ comment
COMMENT_HINT = "comments start with `#`; `//` divides whole numbers"


def after_double_slash(span) -> bool:
    """Whether a `//` comes before `span` on its line (`pad=1 // same padding`: a C-style comment)."""
    line = span.source.line(span.line) if span.source else ""
    return "//" in line[:span.col - 1]


def check_stride_place(stmt: T.Statement, stride: T.Stride, positional, example: str) -> None:
    """`/2` is a stride written after a statement's sizes (`example`). Before one of its
    `positional` arguments (`conv c/2 3x3`) or glued to an option's value (`pad=k/2`) it was
    meant as a division, which archdsl writes `//`."""
    at = (stride.span.line, stride.span.col)
    later = next((a for a in positional if (a.span.line, a.span.col) > at), None)
    glued = next((o for o in stmt.options if (o.span.end_line, o.span.end_col) == at), None)
    if later is None and glued is None:
        return
    line = stride.span.source.line(stride.span.line) if stride.span.source else ""
    if glued is not None:
        value = line[line.index("=", glued.name_span.end_col - 1) + 1:stride.span.col - 1].strip()
        meant = f"to divide, write `{value} // {stride.value}` (whole-number division)"
        if value.isdecimal() and stride.value and int(value) % stride.value:
            meant = f"write the number itself, `{glued.name}={int(value) / stride.value:g}`"
        raise invalid("E0206", f"`/{stride.value}` inside an option is not a stride", stride.span,
                      "read as a stride here", f"{meant}: `{glued.name}={value}/{stride.value}` sets "
                      f"{glued.name}={value} and a stride of {stride.value}")
    before = _text_before(line, stride.span.col)
    raise invalid("E0206", f"`/{stride.value}` before a size is not a stride", stride.span, "read as a stride here",
                  f"to divide, write `{before or '...'} // {stride.value}` (whole-number division); a stride goes "
                  f"after the sizes, like `{example}`")


def _text_before(line: str, col: int) -> str:
    """The word or number that ends just before column `col` of `line` (`c` in `c/2`), if any."""
    head = line[:col - 1]
    start = len(head)
    while start > 0 and (head[start - 1].isalnum() or head[start - 1] == "_"):
        start -= 1
    return head[start:]


def names_in(value) -> set[str]:
    """The names a syntax value reads: `width * 2` -> {"width"}; `input.channels` -> {"input"}."""
    if isinstance(value, T.Name):
        return {value.name.split(".", 1)[0]}
    if isinstance(value, T.BinOp):
        return names_in(value.left) | names_in(value.right)
    if isinstance(value, T.Not):
        return names_in(value.operand)
    if isinstance(value, (T.ListValue, T.TupleValue, T.Call)):
        items = value.args if isinstance(value, T.Call) else value.items
        return set().union(*map(names_in, items))
    return set()


def _usage(function: str) -> str:
    return f"`{function}`: {FUNCTIONS[function][3]}"
