"""Making a block's nodes again without walking its body again.

Two cases, one mechanism (`Template`: nodes made once, copied under another path and input):

- **A row's units.** The units of a row after its first are alike: the same arguments (stride
  1), the same input type, the same statements. Where the body reads nothing that tells them
  apart (`unit`, `stage_unit`) and its second unit was built without a diagnostic, each later
  unit is the second's nodes again (`repeated`).
- **An instance made before.** What one instance of a block makes depends only on the block, the
  statement using it, the values its parameters take (its place in a row among them) and its
  input's type (`instance_key`): the body sees nothing else. Another instance with all of these
  the same, anywhere in the spec, is the first's nodes again where the first was made without a
  diagnostic and changed nothing but the graph (BlockUses.unit). The inner blocks of a row whose
  units differ (a stochastic-depth rate growing with `unit`) are so made once per row, not once
  per unit.

The copies are under their own paths, fed from their own inputs, inside their own frames, and
counted and claimed as any node. The IR is the one walking the body would make; only the walk
(evaluating its lets, conditions and options again) is saved. Not used where the language server
maps statements to the nodes they made.
"""

from __future__ import annotations

from typing import Callable, Iterable

from archdsl.ir.memory import output_bytes
from archdsl.ir.origin import Frame
from archdsl.ir.state import node_parameter_count
from archdsl.semantics.budget import Usage
from archdsl.semantics.emit import Emitter
from archdsl.semantics.scope import MADE_BY
from archdsl.semantics.userblocks import BlockDef, names_read

#: what a unit's body can read that differs between the units of a row
VARYING = {"unit", "stage_unit"}


def reads_unit(block: BlockDef, blocks: dict, seen: frozenset = frozenset()) -> bool:
    """Whether `block`'s body, or a block it uses, reads its unit's place in its row."""
    read = names_read(block.body)
    if read & VARYING:
        return True
    inner = [blocks[name] for name in read if name in blocks and name not in seen and name != block.name]
    return any(reads_unit(b, blocks, seen | {block.name}) for b in inner)


def repeated(em: Emitter, indices: Iterable[int], x: int, path_of: Callable[[int], str],
             build: Callable[[int, int, str], int], replayable: Callable[[], bool],
             replayed: Callable[[], object] | None = None) -> int:
    """`x` through the units of a row: unit `i`, at `path_of(i)`, is `build(i, x, path)`. From the
    third on, a unit is the second's nodes again where they fit (the same input type), the second
    was built without a diagnostic and `replayable()` says its units are alike (and the language
    server is not mapping statements to the nodes they make); `replayed` is told of each unit
    made so."""
    template = None
    for i in indices:
        path = path_of(i)
        if template is not None and template.fits(x):
            if replayed is not None:
                replayed()
            x = template.apply(x, path)
            continue
        start, before, source = len(em.graph), len(em.diagnostics), x
        x = build(i, x, path)
        if i == 1 and len(em.diagnostics) == before and MADE_BY.get() is None and replayable():
            template = Template(em, start, len(em.graph), source, x, path)
    return x


def instance_key(block: BlockDef, use, values: dict, in_type) -> tuple | None:
    """What one instance of a block makes depends on, besides the spec's parameters: the block,
    the statement using it (its body's spans may be the use's, prelude.at_use), the values its
    parameters take and its input's type. None where a value is a layer's output (`ValueRef`),
    or not one that compares as the language's values do."""
    try:
        key = (id(block), id(use), in_type, tuple((name, _typed(value)) for name, value in values.items()))
        hash(key)
    except (TypeError, _NotKept):
        return None
    return key


class Made:
    """Where one block instance's nodes lie (ids `start` .. `end`-1, from `source` to `result`, at
    `path`, with `around` the frames then around it); its Template, made the first time another
    instance asks, is None where the nodes cannot be copied for another instance."""

    def __init__(self, block, use, start: int, end: int, source: int, result: int, path: str, names: dict,
                 around: tuple[Frame, ...]):
        self.block, self.use, self.around = block, use, around
        self.where = (start, end, source, result, path, names)
        self._template: Template | None | bool = False

    def template(self, em: Emitter) -> "Template | None":
        if self._template is False:
            made = Template(em, *self.where, around=self.around)
            self._template = made if made.usable and made.closed() else None
        return self._template


class _NotKept(Exception):
    """A value an instance key does not hold."""


def _typed(value):
    """`value` as a key's part that is equal only to the same value of the same type: 1, 1.0 and
    true are one key to Python, three values to the language."""
    kind = type(value)
    if kind is int or kind is str or value is None:
        return value
    if kind is tuple or kind is list:
        return kind, tuple(map(_typed, value))
    if kind is bool or kind is float:
        return kind, value
    raise _NotKept


class Template:
    """The nodes one unit made (ids `start` .. `end`-1, from input `source` to output `result`)
    at unit path `path`, to be made again for another unit. What does not depend on the unit's
    place (each node's inputs within the unit, its path under the unit's, its parameters, the
    unit's totals for the budget) is worked out here, once."""

    def __init__(self, em: Emitter, start: int, end: int, source: int, result: int, path: str,
                 names: dict | None = None, around: tuple[Frame, ...] | None = None):
        self.em, self.start, self.end, self.source, self.result, self.path = em, start, end, source, result, path
        graph = em.graph
        self.nodes = nodes = [graph[i] for i in range(start, end)]
        #: the frames around the unit when it was made (the row's, the scopes' and blocks' outside
        #: it; default: those around now): each node's origin starts with them, a copy's with
        #: those around it
        around = tuple(em.frames) if around is None else around
        outer = len(around)
        self.usable = em.sharing is None and all(
            n.type is not None and n.shares is None and len(n.origin) >= outer
            and all(a is b for a, b in zip(n.origin, around)) for n in nodes)
        #: the names the unit's body defined (name -> (node id, span)), for a copy's scope
        self.names = names
        self.source_type = graph[source].type
        #: each node's trainable parameters: its copies, fed the same types, have as many
        self.params = [node_parameter_count(n, graph) for n in nodes]
        self.usage = Usage(sum(self.params), sum(map(output_bytes, nodes)), len(nodes))
        self.inferred = [n.id - start for n in nodes if n.id in graph.inferred]
        #: each node's path after the unit's own (None: a path outside the unit, kept)
        self.suffixes = [self._suffix(n.path) for n in nodes]
        #: the nodes' origins, each different one once, and which one each node has
        distinct: dict[tuple[Frame, ...], int] = {}
        self.origin_of = [distinct.setdefault(n.origin[outer:], len(distinct)) for n in nodes]
        self.origins = list(distinct)

    def fits(self, x: int) -> bool:
        return self.usable and self.em.graph[x].type == self.source_type

    def closed(self) -> bool:
        """Whether the unit reads nothing but its input, and is named under its path only: what a
        copy made for another instance of its block needs (replay within a row needs neither)."""
        inside = range(self.start, self.end)

        def own(node_id: int) -> bool:
            return node_id in inside or node_id == self.source

        return None not in self.suffixes and own(self.result) and all(own(i) for n in self.nodes for i in n.inputs) \
            and all(own(i) for i, _ in (self.names or {}).values())

    def apply(self, x: int, path: str, names: dict | None = None) -> int:
        """The template's nodes again at unit `path`, fed from `x`; returns the unit's output.
        `names`, where given, receives the names the unit defined, as they are in the copy."""
        em, graph, start = self.em, self.em.graph, self.start
        offset = len(graph) - start
        frames: dict[int, Frame] = {}
        around = tuple(em.frames)
        origins = [around + tuple(frames.get(id(f)) or frames.setdefault(id(f), self._moved_frame(f, path))
                                  for f in origin) for origin in self.origins]
        counted = em.budget.add_all(self.usage)
        for k, old in enumerate(self.nodes):
            suffix = self.suffixes[k]
            node = old.moved(id=old.id + offset, path=old.path if suffix is None else path + suffix,
                             inputs=tuple(self._moved_id(i, x, offset) for i in old.inputs),
                             origin=origins[self.origin_of[k]])
            if node.has_state:
                em.claim_path(node.path, node.span)
            graph.add(node)
            if not counted:
                em.budget.add(node, graph, self.params[k])
        graph.inferred.update(k + start + offset for k in self.inferred)
        if names is not None:
            names.update((name, (self._moved_id(i, x, offset), span)) for name, (i, span) in self.names.items())
        return self._moved_id(self.result, x, offset)

    def _moved_id(self, node_id: int, x: int, offset: int) -> int:
        if node_id == self.source:
            return x
        return node_id + offset if self.start <= node_id < self.end else node_id

    def _suffix(self, old: str) -> str | None:
        if old == self.path:
            return ""
        return old[len(self.path):] if old.startswith(self.path + ".") else None

    def _moved(self, old: str, path: str) -> str:
        suffix = self._suffix(old)
        return old if suffix is None else path + suffix

    def _moved_frame(self, frame: Frame, path: str) -> Frame:
        moved = self._moved(frame.path, path)
        return frame if moved == frame.path else frame.model_copy(update={"path": moved})
