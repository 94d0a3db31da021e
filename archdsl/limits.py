"""How large a network the checker accepts: the resource budget, and how limits are written.

A spec is checked against a :class:`Limits` before anything is allocated: its
trainable parameters, the fp32 activation memory one image needs, and the number
of IR nodes. The defaults are generous (about twenty times what the largest
bundled spec needs); `--max-params`, `--max-activations` and `--max-nodes`, or
`limits=Limits(...)` in Python, change them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: 20x VGG-19-BN, the largest bundled spec (143.7M); 12 GB of fp32 weights
DEFAULT_MAX_PARAMS = 3_000_000_000
#: 21x ResNeXt-101 32x8d at 224x224 (386 MiB): room for every bundled spec up to ~1000x1000 inputs
DEFAULT_MAX_ACTIVATION_BYTES = 8 * 2**30
#: 26x Res2Net-101 (772 nodes); checking that many takes about a second
DEFAULT_MAX_NODES = 20_000

_COUNT_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "b": 10**9, "t": 10**12}
_BYTE_SUFFIXES = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
                  "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_AMOUNT = re.compile(r"\s*([0-9][0-9_]*(?:\.[0-9_]*)?(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*")
#: no limit beyond this is meaningful, and it keeps the figures exact integers
_CEILING = 10**18


@dataclass(frozen=True)
class Limits:
    """The budget a spec must fit: trainable parameters, fp32 activation bytes for one image, IR nodes."""

    params: int = DEFAULT_MAX_PARAMS
    activation_bytes: int = DEFAULT_MAX_ACTIVATION_BYTES
    nodes: int = DEFAULT_MAX_NODES

    def __post_init__(self):
        for name in ("params", "activation_bytes", "nodes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _CEILING:
                raise ValueError(f"Limits.{name} must be a whole number from 1 to 10**18, not {value!r}")


def parse_count(text: str) -> int:
    """A count as people write it: `25000000`, `2_000_000`, `25e6`, `1.5G`, `300M`, `2B`.

    Raises ValueError for anything else, or for a count below 1 or above 10**18.
    """
    return _amount(text, _COUNT_SUFFIXES, "a count like 25e6, 2_000_000 or 1.5G")


def parse_bytes(text: str) -> int:
    """A memory size: `8GiB`, `512MiB`, `16GB`, `1e9` (bytes). Raises ValueError otherwise."""
    return _amount(text, _BYTE_SUFFIXES, "a size like 8GiB, 512MiB or 16GB")


def _amount(text: str, suffixes: dict[str, int], example: str) -> int:
    match = _AMOUNT.fullmatch(text.lower()) if len(text) < 64 else None
    if match is None or match.group(2) not in suffixes or match.group(1).endswith("_"):
        raise ValueError(f"expected {example}, got {text!r}")
    number, unit = match.group(1).replace("_", ""), suffixes[match.group(2)]
    value = float(number) * unit if ("." in number or "e" in number) else int(number) * unit
    if not math.isfinite(value) or not 1 <= value <= _CEILING:
        raise ValueError(f"expected a limit from 1 to 10**18, got {text!r}")
    return int(value)


def show_bytes(n: int) -> str:
    """`8 GiB`, `1.53 TiB`, `512 MiB`: a byte count in the largest binary unit that keeps it above 1."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:,.2f} {unit}" if n % size else f"{n // size:,} {unit}"
    return f"{n} bytes"
