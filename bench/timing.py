"""Timing helpers: repeated runs, interleaved so that a machine's drift hits every side alike,
summarised by medians and quartiles."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def seconds(fn: Callable[[], object], sync: Callable[[], None] | None = None) -> float:
    """Wall time of one call of `fn`, after `sync` (a device synchronisation) if given."""
    start = time.perf_counter()
    fn()
    if sync is not None:
        sync()
    return time.perf_counter() - start


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median milliseconds of `repeats` calls of `fn`, after one call to warm up."""
    fn()
    return 1e3 * median([seconds(fn) for _ in range(repeats)])


def interleave(fns: dict[str, Callable[[], object]], rounds: int, sync=None) -> dict[str, list[float]]:
    """Time every function once per round, rotating the order each round so that each one
    runs first, second, ... equally often."""
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(seconds(fns[name], sync))
    return times


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    """The 25th, 50th and 75th percentiles."""
    if len(xs) < 2:
        return xs[0], xs[0], xs[0]
    low, mid, high = statistics.quantiles(xs, n=4, method="inclusive")
    return low, mid, high


def ratios(numerators: list[float], denominators: list[float]) -> list[float]:
    """Pairwise ratios of two interleaved series, round by round."""
    return [a / b for a, b in zip(numerators, denominators)]
