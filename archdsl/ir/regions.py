"""The stages, blocks and scopes of a network that can stand as modules of their own.

Every node records the frames that made it (archdsl.ir.origin). A frame's *region* is the set of
nodes that record it. A back end can make a region one callable unit at the frame's module path
(`layer1`, `features.denseblock2`, `features.3`) when the region:

- is one run of nodes in construction order, so it is built, and can be called, in one go;
- reads at least one value made outside it, and hands exactly one value out (to later nodes or to
  the network's output), as a module's forward takes arguments and returns one tensor;
- owns every module path under its own (`layer1.` ...) and none elsewhere, so the module tree
  and the call tree agree and every state_dict key stays where it is.

Regions nest as their frames do; a frame that fails a rule is simply not a unit, and the regions
inside it may still be.

A block instance applied to several values (shared weights) is built once per value at the same path.
Its first application is the region; each later one (`applications`) calls that same unit with its
own inputs, so one module serves every value.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from archdsl.ir.graph import Graph


@dataclass(frozen=True)
class Region:
    """A frame's nodes as one unit: ids in construction order, the outside values it reads (in the
    order it first reads them), and the one value it hands out."""

    path: str
    role: str
    kind: str
    nodes: tuple[int, ...]
    inputs: tuple[int, ...]
    output: int


def regions(graph: Graph) -> dict[str, Region]:
    """The frames of `graph` that can stand as units, by path, in the order they open (an outer
    region before the regions inside it)."""
    members: dict[str, list[int]] = {}
    frames = {}
    for node in graph.nodes():
        for frame in _own_frames(node):
            if frame.path:
                frames.setdefault(frame.path, frame)
                ids = members.setdefault(frame.path, [])
                if not ids or ids[-1] != node.id:
                    ids.append(node.id)
    named = _NamedNodes(graph)
    found = (_region(graph, named, frames[path], ids) for path, ids in members.items())
    units = [r for r in found if r is not None]
    return {r.path: r for r in sorted(units, key=lambda r: (r.nodes[0], -len(r.nodes)))}


def _region(graph: Graph, named: "_NamedNodes", frame, ids: list[int]) -> Region | None:
    if ids[-1] - ids[0] + 1 != len(ids):
        return None  # not one run: another construct was built in the middle
    inside = set(ids)
    inputs = list(dict.fromkeys(i for n in ids for i in graph[n].inputs if i not in inside))
    outputs = [n for n in ids if any(user not in inside for user in graph.successors(n))]
    if not inputs or len(outputs) != 1 or not named.owned_by(frame.path, ids):
        return None
    return Region(frame.path, frame.role, frame.kind, tuple(ids), tuple(inputs), outputs[0])


def applications(graph: Graph, units: dict[str, Region]) -> dict[int, Region]:
    """The later applications of shared instances whose first application is a unit, by the id of each
    of their nodes: each reads as many outside values as the unit and hands out one, so a back end
    calls the unit again in its place. Where the whole application is no unit (it hands out two
    values), the frames inside it that are units are called again the same way."""
    runs: dict[tuple[str, int], list[int]] = {}
    for node in graph.nodes():
        application = None
        for frame in node.origin:  # the application's frame and those inside it, outermost first
            application = frame.application or application
            if application:
                runs.setdefault((frame.path, application), []).append(node.id)
    found: dict[int, Region] = {}
    for (path, _), ids in runs.items():  # an outer frame's run comes first and wins
        unit = units.get(path)
        inside = set(ids)
        inputs = list(dict.fromkeys(i for n in ids for i in graph[n].inputs if i not in inside))
        outputs = [n for n in ids if any(user not in inside for user in graph.successors(n))]
        if unit is None or len(inputs) != len(unit.inputs) or len(outputs) != 1 or inside & found.keys():
            continue
        region = Region(path, unit.role, unit.kind, tuple(ids), tuple(inputs), outputs[0])
        found.update((i, region) for i in ids)
    return found


def counterparts(graph: Graph) -> dict[int, int]:
    """Each node of a later application of a shared instance, and the node of the first application it
    repeats (the same layer, in the same place of the body): a diagram draws both as one box."""
    runs: dict[tuple[str, int], list[int]] = {}
    for node in graph.nodes():
        frame = next((f for f in node.origin if f.application is not None), None)
        if frame is not None:
            runs.setdefault((frame.path, frame.application), []).append(node.id)
    found = {}
    for (path, k), ids in runs.items():
        first = runs.get((path, 0), [])
        if k == 0 or len(first) != len(ids):
            continue
        found.update((mine, theirs) for mine, theirs in zip(ids, first) if graph[mine].path == graph[theirs].path)
    return found


def _application(node):
    """The frame of the later application of a shared instance that made `node`, if one did."""
    return next((frame for frame in node.origin if frame.application), None)


def _own_frames(node):
    """The frames a node counts in: all of them, but for a later application of a shared instance only
    those around it (its nodes stand for a second call of the first application's unit)."""
    for frame in node.origin:
        if frame.application:
            return
        yield frame


class _NamedNodes:
    """The nodes that have a module path, sorted by it, to find those under a prefix at once (a later
    application of a shared instance left out: its paths are its first application's)."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.sorted = sorted((n.path, n.id) for n in graph.nodes() if _named(n) and _application(n) is None)

    def owned_by(self, path: str, ids: list[int]) -> bool:
        """Every named node of `ids` lies under `path.`, and no other node does."""
        low = bisect_left(self.sorted, (path + ".",))
        high = bisect_left(self.sorted, (path + "/",))  # "/" is the character after "."
        under = self.sorted[low:high]
        inside = [i for i in ids if _named(self.graph[i]) and _application(self.graph[i]) is None]
        return len(under) == len(inside) and all(self.graph[i].path.startswith(path + ".") for i in inside)


def _named(node) -> bool:
    return bool(node.path) and node.op not in ("input", "output")


def enclosing(graph: Graph, units: dict[str, Region]) -> dict[int, tuple[str, ...]]:
    """For each node, the paths of the units that hold it, outermost first; a unit whose path does
    not lie under the one around it (its module could not be the other's child) is left out."""
    chains = {}
    for node in graph.nodes():
        chain: list[str] = []
        for frame in _own_frames(node):
            if frame.path in units and frame.path not in chain and \
                    (not chain or frame.path.startswith(chain[-1] + ".")):
                chain.append(frame.path)
        chains[node.id] = tuple(chain)
    return chains
