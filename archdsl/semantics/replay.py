"""Repeating a row's unit without walking its body again.

The units of a row after its first are alike: the same arguments (stride 1), the same input
type, the same statements. Where the body reads nothing that tells them apart (`unit`,
`stage_unit`) and its second unit was built without a diagnostic, the nodes of that unit are a
template: each later unit is the template's nodes again, under the unit's own path, fed from
the unit's own input, and typed, counted and claimed by the Emitter as any node. The IR is the
one walking the body would make; only the walk (evaluating its lets, conditions and options
again) is saved. Not used where the language server maps statements to the nodes they made.
"""

from __future__ import annotations

from typing import Callable, Iterable

from archdsl.ir.origin import Frame
from archdsl.ir.state import node_parameter_count
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


class Template:
    """The nodes one unit made (ids `start` .. `end`-1, from input `source` to output `result`)
    at unit path `path`, to be made again for another unit."""

    def __init__(self, em: Emitter, start: int, end: int, source: int, result: int, path: str):
        self.em, self.start, self.end, self.source, self.result, self.path = em, start, end, source, result, path
        graph = em.graph
        nodes = [graph[i] for i in range(start, end)]
        self.usable = all(n.type is not None and n.shares is None for n in nodes) and em.sharing is None
        self.source_type = graph[source].type
        #: each node's trainable parameters: its copies, fed the same types, have as many
        self.params = [node_parameter_count(n, graph) for n in nodes]

    def fits(self, x: int) -> bool:
        return self.usable and self.em.graph[x].type == self.source_type

    def apply(self, x: int, path: str) -> int:
        """The template's nodes again at unit `path`, fed from `x`; returns the unit's output."""
        em, graph, offset = self.em, self.em.graph, len(self.em.graph) - self.start
        frames: dict[Frame, Frame] = {}
        for old_id in range(self.start, self.end):
            old = graph[old_id]
            inputs = tuple(x if i == self.source else i + offset if self.start <= i < self.end else i
                           for i in old.inputs)
            origin = tuple(frames.get(f) or frames.setdefault(f, self._moved_frame(f, path)) for f in old.origin)
            node = old.model_copy(update={"id": old_id + offset, "inputs": inputs, "path": self._moved(old.path, path),
                                          "origin": origin})
            if node.has_state:
                em.claim_path(node.path, node.span)
            graph.add(node)
            if old_id in graph.inferred:
                graph.inferred.add(node.id)
            em.budget.add(node, graph, self.params[old_id - self.start])
        if self.result == self.source:
            return x
        return self.result + offset if self.start <= self.result < self.end else self.result

    def _moved(self, old: str, path: str) -> str:
        if old == self.path:
            return path
        return path + old[len(self.path):] if old.startswith(self.path + ".") else old

    def _moved_frame(self, frame: Frame, path: str) -> Frame:
        moved = self._moved(frame.path, path)
        return frame if moved == frame.path else frame.model_copy(update={"path": moved})
