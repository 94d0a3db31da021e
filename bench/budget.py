"""A wall-clock budget for one benchmark run, so that a run on a machine lent for a few minutes
ends inside its lease with what it measured saved, and says what it left out."""

from __future__ import annotations

import time


class Budget:
    """Seconds left until a deadline; `None` seconds means no deadline."""

    def __init__(self, seconds: float | None, clock=time.monotonic):
        self.clock = clock
        self.start = clock()
        self.seconds = seconds

    def spent(self) -> float:
        return self.clock() - self.start

    def left(self) -> float:
        return float("inf") if self.seconds is None else self.seconds - self.spent()

    def allows(self, estimate: float) -> bool:
        """Whether work expected to take `estimate` seconds fits in what is left."""
        return estimate <= self.left()

    def past_share(self, share: float) -> bool:
        """Whether more than `share` (0..1) of the whole budget has been spent."""
        return self.seconds is not None and self.spent() > share * self.seconds


class Estimates:
    """The longest time each kind of job has taken so far in this run (a first guess until one has
    run; for a kind without one, the largest guess), used to decide whether the next job still fits."""

    def __init__(self, first_guess: dict[str, float]):
        self.first_guess = dict(first_guess)
        self.longest: dict[str, float] = {}

    def __getitem__(self, kind: str) -> float:
        return self.longest.get(kind, self.first_guess.get(kind, max(self.first_guess.values(), default=0.0)))

    def record(self, kind: str, seconds: float) -> None:
        self.longest[kind] = max(seconds, self.longest.get(kind, 0.0))
