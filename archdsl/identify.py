"""Which network a checkpoint is: its keys and shapes against the state of every network that
can be named (the bundled ones and those on ARCHDSL_PATH), without torch.

The state a network makes comes from its IR (archdsl.ir.state), so nothing is built; to stay
cheap the search narrows in three steps:

1. a spec file that never writes one of the checkpoint's top-level names (`features`,
   `layer1`; unnamed positions aside) cannot make its keys, so it is not loaded;
2. each remaining spec file is loaded once, and most of the checkpoint's keys with their numbers
   blanked (`features.#.conv.#.weight`) must be among that network's, or most of its among the
   checkpoint's, whatever the depths;
3. only the names of a spec file that passes are loaded and compared key by key and shape by
   shape, until one fits exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archdsl.ir.graph import Graph
from archdsl.ir.state import node_state
from archdsl.weights import OPTIONAL
#: the share of the checkpoint's blanked keys a spec file must make for its names to be compared
FAMILY_SHARE = 0.8
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Fit:
    """How well the network `name` fits a checkpoint: `matched` of the `total` tensors it makes
    are in the checkpoint with the same shape; the checkpoint holds `tensors`."""

    name: str
    matched: int
    total: int
    tensors: int

    @property
    def exact(self) -> bool:
        return self.matched == self.total == self.tensors

    def __str__(self) -> str:
        return f"`{self.name}` ({self.matched:,} of {self.total:,})"


def state_shapes(graph: Graph) -> dict[str, tuple[int, ...]]:
    """Every state_dict key the network makes, and its shape, from the IR."""
    return {entry.key: entry.shape for node in graph.stateful() for entry in node_state(node, graph)}


def fit(name: str, ours: dict[str, tuple[int, ...]], theirs: dict[str, tuple[int, ...]]) -> Fit:
    """How the state `ours` (of the network `name`) fits the checkpoint's shapes `theirs`; BatchNorm's
    counters count only where the checkpoint has any."""
    if not any(key.endswith(OPTIONAL) for key in theirs):
        ours = {key: shape for key, shape in ours.items() if not key.endswith(OPTIONAL)}
    matched = sum(1 for key, shape in ours.items() if key in theirs and tuple(theirs[key]) == tuple(shape))
    return Fit(name, matched, len(ours), len(theirs))


def identify(theirs: dict[str, tuple[int, ...]]) -> list[Fit]:
    """The networks that make some of the checkpoint's tensors, best first; the search stops at
    the first that fits it exactly (makes every tensor it holds, at its shape, and no other)."""
    fits: list[Fit] = []
    for first, models in _families(theirs):
        for model in models:
            ours = first if model is models[0] else _state(model)
            if ours is None:
                continue
            fits.append(fit(model.name, ours, theirs))
            if fits[-1].exact:
                return [fits[-1]]
    return sorted((f for f in fits if f.matched), key=lambda f: (-f.matched / max(f.total, f.tensors), f.name))


def _families(theirs: dict):
    """(the state of its first network, its networks) for each spec file that may make the
    checkpoint's keys (steps 1 and 2 above), those sharing most of the checkpoint's blanked keys first."""
    from archdsl import zoo

    tops = {key.split(".", 1)[0] for key in theirs} - {""}
    tops = {top for top in tops if not top.isdecimal()}
    blanked = {_blank(key) for key in theirs}
    by_file: dict = {}
    for model in zoo.models().values():
        variants = by_file.setdefault(model.path.resolve(), [])
        if all((m.params, m.input) != (model.params, model.input) for m in variants):  # an alias adds nothing
            variants.append(model)
    found = []
    for models in by_file.values():
        if not tops <= _words(models[0].path):
            continue
        first = _state(models[0])
        if first is None:
            continue
        made = {_blank(key) for key in first}
        share = max(_share(blanked, made), _share(made, blanked))
        if share >= FAMILY_SHARE:
            found.append((share, first, models))
    return [(first, models) for _, first, models in sorted(found, key=lambda item: -item[0])]


def _blank(key: str) -> str:
    """A key with its numbers blanked, so that networks of one family at other depths share it."""
    return _DIGITS.sub("#", key)


def _share(wanted: set, made: set) -> float:
    return len(wanted & made) / len(wanted) if wanted else 0.0


def _words(path) -> set[str]:
    """The names a spec file writes (the words of its text)."""
    try:
        return set(_WORD.findall(path.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return set()


def _state(model) -> dict | None:
    """The state a named network makes, or None where its spec has errors."""
    from archdsl.api import analyse

    graph, _ = analyse(model.path, dict(model.params), model.input)
    return state_shapes(graph) if graph is not None else None
