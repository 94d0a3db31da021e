"""Small predicates on evaluated values, shared by the evaluator and the built-in functions."""

from __future__ import annotations

import numbers


def is_number(value) -> bool:
    """A number (whole or not), not true/false."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
