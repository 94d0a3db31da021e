"""The built-in functions of spec expressions: `round(x)`, `max(a, b)`, `make_divisible(v, 8)`.

Each takes evaluated numbers and returns a number; a wrong call raises ValueError with the
message the evaluator reports at the call.
"""

from __future__ import annotations

import math
from typing import Callable

from archdsl.semantics.values_base import is_number


def make_divisible(value, divisor, min_value=None) -> int:
    """`value` rounded to the nearest multiple of `divisor` (at least `min_value`, default `divisor`),
    never more than 10% below `value`: the rounding MobileNet and EfficientNet widths use."""
    if not is_number(divisor) or divisor < 1 or divisor != int(divisor):
        raise ValueError("make_divisible's divisor must be a whole number of at least 1")
    divisor = int(divisor)
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def divide(a, b) -> float:
    """`a / b` with its fraction kept (`//` drops it): the rate schedules of stochastic depth."""
    if b == 0:
        raise ValueError("divides by 0")
    return a / b


def _whole(result: float) -> int:
    if not math.isfinite(result):
        raise ValueError("the result is not a finite number")
    return int(result)


def _extremum(pick: Callable):
    def apply(*args):
        items = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
        if not items:
            raise ValueError("needs at least one number")
        return pick(items)
    return apply


#: name -> (function, fewest arguments, most arguments, what it does for `help`)
FUNCTIONS: dict[str, tuple[Callable, int, int, str]] = {
    "min": (_extremum(min), 1, 64, "the smallest of its numbers"),
    "max": (_extremum(max), 1, 64, "the largest of its numbers"),
    "floor": (lambda x: _whole(math.floor(x)), 1, 1, "the whole number at or below x"),
    "ceil": (lambda x: _whole(math.ceil(x)), 1, 1, "the whole number at or above x"),
    "round": (lambda x: _whole(round(x)), 1, 1, "x to the nearest whole number, halves to even (as Python rounds)"),
    "int": (lambda x: _whole(x), 1, 1, "x with its fraction dropped"),
    "abs": (abs, 1, 1, "x without its sign"),
    "sqrt": (math.sqrt, 1, 1, "the square root of x (`1 / sqrt(d)`: attention's scale)"),
    "log": (math.log, 1, 1, "the natural logarithm of x"),
    "div": (divide, 2, 2, "a divided by b, keeping the fraction (`a // b` drops it)"),
    "make_divisible": (make_divisible, 2, 3, "v rounded to a multiple of d, at least m (default d), never 10% "
                                             "below v: torchvision's _make_divisible"),
}
