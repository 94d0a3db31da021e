"""A scope: the names visible in one block of statements, and the module path they live under."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Callable, Generic, TypeVar

from archdsl.diagnostics import Span

#: where set (by a tool that maps source back to the IR: the language server), every statement walked is
#: appended as (statement, first node id, end node id): the nodes it made, its expansion's included
MADE_BY: ContextVar[list | None] = ContextVar("made_by", default=None)


@dataclass
class Scope:
    """Names visible in one block of statements, and the module path they live under."""

    prefix: str
    input: int
    parent: "Scope | None" = None
    names: dict[str, tuple[int, Span]] = field(default_factory=dict)
    count: int = 0

    def next_index(self) -> int:
        """The position of the next statement in this scope, as nn.Sequential would number it."""
        self.count += 1
        return self.count - 1

    def lookup(self, name: str) -> int | None:
        scope = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name][0]
            if name == "input":
                return scope.input
            scope = scope.parent
        return None

    def visible(self) -> list[str]:
        scope, names = self, ["input"]
        while scope is not None:
            names += list(scope.names)
            scope = scope.parent
        return names


_V = TypeVar("_V")


class PerStatement(Generic[_V]):
    """A value worked out once per statement object: the statements of a block's body are walked
    once per instance of the block. Keyed by identity (statements that are equal but made apart
    are worked out apart); each kept with its statement, so its id cannot be another's."""

    def __init__(self):
        self._found: dict[int, tuple[object, _V]] = {}

    def get(self, stmt, work: Callable[[], _V]) -> _V:
        """`work()`'s value for `stmt`, worked out the first time it is asked for; an exception
        `work` raises is raised again each time (nothing is kept)."""
        found = self._found.get(id(stmt))
        if found is None or found[0] is not stmt:
            found = self._found[id(stmt)] = (stmt, work())
        return found[1]
