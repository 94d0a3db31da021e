"""What a diagram shows at a given depth: boxes, clusters and edges, independent of the drawing format.

Depth `stage` draws each stage as one box; `block` draws stages as clusters of
block boxes; `layer` draws blocks as clusters of layer boxes. Consecutive
identical blocks always fold: one box (or one cluster) marked "x N", whose inner
repetition edges are dropped. Edges carry the tensor shape they transport;
shortcut edges (into an add or concat from a shallower branch) are marked, as is the edge to an
upsample from the value whose size it takes (labelled `size of ...`). A block instance applied to
several values (shared weights) is drawn once, with an edge from each value and one to each result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from archdsl.ir.graph import Graph
from archdsl.ir.nodes import NodeBase
from archdsl.ir.regions import counterparts
from archdsl.backends.summary.structure import DEPTHS, Group, Run, module_tree, runs, shown_whole
from archdsl.backends.summary.table import Cost, Totals, describe, human, mib, node_cost, totals

__all__ = ["DEPTHS", "Box", "Cluster", "Edge", "View", "build_view"]


@dataclass
class Box:
    """One drawn node: an op, or a group shown whole."""

    id: str
    title: str
    text: str
    cost: Cost
    #: colour key: an op name (`conv`), a block kind (`bottleneck`), or `endpoint`
    colour: str
    shape: str = "box"  # box | merge | endpoint


@dataclass
class Cluster:
    id: str
    title: str
    text: str
    cost: Cost
    items: list[Union[Box, Cluster]] = field(default_factory=list)
    #: nesting: 1 for a top-level cluster
    level: int = 1


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    shortcut: bool


@dataclass
class View:
    network: str
    input: str
    output: str
    totals: Totals
    items: list[Union[Box, Cluster]]
    edges: list[Edge]

    def boxes(self) -> list[Box]:
        out: list[Box] = []
        stack = list(self.items)
        while stack:
            item = stack.pop(0)
            if isinstance(item, Box):
                out.append(item)
            else:
                stack[:0] = item.items
        return out

    def facts(self) -> str:
        """The subtitle: shapes in and out, and the network's totals."""
        t = self.totals
        return (f"{self.input} → {self.output}  ·  {human(t.params)} params  ·  "
                f"{human(t.macs)} MACs (conv+linear)  ·  {mib(t.activation_bytes)} activations")


MERGES = ("add", "concat", "mul")


def cost_parts(cost: Cost) -> list[str]:
    """`["1.5M params", "372.5M MACs"]`, leaving out zeros."""
    parts = [f"{human(cost.params)} params"] if cost.params else []
    return parts + ([f"{human(cost.macs)} MACs"] if cost.macs else [])


def build_view(graph: Graph, depth: str | int = "block") -> View:
    """The diagram of `graph` at `depth`: stage, block or layer, or a number of module path levels
    (as `archdsl summary --depth` takes it; see structure.shown_whole)."""
    if not (isinstance(depth, int) and depth >= 1) and depth not in DEPTHS:
        raise ValueError(f"depth must be one of {', '.join(DEPTHS)} or a number of path levels from 1 up")
    builder = _Builder(graph, depth)
    again = counterparts(graph)
    root = module_tree(graph, leave_out=again.keys())
    items = [builder.endpoint(next(n for n in graph.nodes() if n.op == "input"), "input")]
    items += builder.place(root, 0)
    items += builder.output_endpoints()
    for node_id, first in again.items():  # a shared instance is drawn once: its boxes serve every value
        builder.where[node_id] = builder.where[first]
    return View(graph.name, str(graph.input_type), graph.outputs_text(), totals(graph), items, builder.edges())


class _Builder:
    def __init__(self, graph: Graph, depth: str | int):
        self.graph = graph
        self.depth = depth
        self.costs = {n.id: node_cost(n, graph) for n in graph.nodes()}
        #: IR node id -> (box id, run id, instance within the run)
        self.where: dict[int, tuple[str, int, int]] = {}
        #: the box of each of the network's outputs, in order
        self.outputs: list[str] = []
        self.count = 0

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def endpoint(self, node: NodeBase, title: str) -> Box:
        box = Box(self.fresh("n"), title, str(node.type), Cost(), "endpoint", "endpoint")
        self.where[node.id] = (box.id, -1, 0)
        return box

    def output_endpoints(self) -> list[Box]:
        """One endpoint box per output: `output` for the one unnamed output, else each output's name."""
        output = self.graph.output
        boxes = [Box(self.fresh("n"), name, str(t), Cost(), "endpoint", "endpoint")
                 for name, t in zip(self.graph.output_names, self.graph.output_types)]
        self.where[output.id] = (boxes[0].id, -1, 0)
        self.outputs = [box.id for box in boxes]
        return boxes

    def place(self, group: Group, level: int) -> list[Union[Box, Cluster]]:
        out: list[Union[Box, Cluster]] = []
        for run in runs(group, self.graph):
            run_key = id(run.first)
            if not isinstance(run.first, Group):
                out.append(self.op_box(run.first, run_key))
            elif shown_whole(run.first, self.depth):
                out.append(self.group_box(run, run.name_in(group), run_key))
            elif run.count == 1 and (len(run.first.nodes) == 1 or run.first.role == "part" and not _contiguous(
                    run.first, group)):
                out += self.place(run.first, level)  # one op, or parts interleaved like Res2Net's convs.i, bns.i
            else:
                out.append(self.group_cluster(run, run.name_in(group), run_key, level + 1))
        return out

    def op_box(self, node: NodeBase, run_key: int) -> Box:
        shape = "merge" if node.op in MERGES else "box"
        box = Box(self.fresh("n"), _op_title(node), describe(node), self.costs[node.id], node.op, shape)
        self.where[node.id] = (box.id, run_key, 0)
        return box

    def group_box(self, run: Run, title: str, run_key: int) -> Box:
        group = run.first
        cost = sum((self.costs[n.id] for n in run.nodes), Cost())
        box = Box(self.fresh("n"), title, describe(group, run.count), cost, _group_colour(group))
        for n in run.nodes:
            self.where[n.id] = (box.id, run_key, 0)
        return box

    def group_cluster(self, run: Run, title: str, run_key: int, level: int) -> Cluster:
        group = run.first
        cost = sum((self.costs[n.id] for n in run.nodes), Cost())
        cluster = Cluster(self.fresh("c"), title, describe(group, run.count), cost, level=level)
        cluster.items = self.place(group, level)
        if run.count > 1:
            self.alias_repeats(run, run_key)
        return cluster

    @staticmethod
    def _instance(node: NodeBase) -> str | None:
        """The path of the shared instance an application of which made `node`, if one did."""
        return next((f.path for f in node.origin if f.application is not None), None)

    def alias_repeats(self, run: Run, run_key: int) -> None:
        """Nodes of the 2nd..Nth identical block are drawn by the 1st block's boxes."""
        first = run.first.nodes
        for instance, other in enumerate(run.items[1:], start=1):
            for mine, theirs in zip(first, other.nodes):
                self.where[theirs.id] = (self.where[mine.id][0], run_key, instance)
        for n in first:
            box, _, _ = self.where[n.id]
            self.where[n.id] = (box, run_key, 0)

    def edges(self) -> list[Edge]:
        shortcuts = shortcut_edges(self.graph)
        found: dict[tuple[str, str], Edge] = {}
        for node in self.graph.nodes():
            for index, source in enumerate(node.inputs):
                edge = self.edge(source, node, (source, node.id) in shortcuts)
                if edge is None:
                    continue
                if node.op == "output":  # each output to its own endpoint
                    edge = Edge(edge.source, self.outputs[index], edge.label, edge.shortcut)
                key = (edge.source, edge.target)
                if self._instance(node) != self._instance(self.graph[source]):
                    key += (edge.label,)  # into a shared instance, or out of it: one edge per value
                if key not in found or found[key].shortcut and not edge.shortcut:
                    found[key] = edge
        return list(found.values())

    def edge(self, source: int, node: NodeBase, shortcut: bool) -> Edge | None:
        (a, run_a, inst_a), (b, run_b, inst_b) = self.where[source], self.where[node.id]
        if a == b or (run_a == run_b and run_a != -1 and inst_a != inst_b):
            return None
        if node.op == "upsample" and node.matches_input and source == node.inputs[1]:
            return Edge(a, b, "size of " + str(self.graph[source].type), True)  # read for its size alone
        return Edge(a, b, str(self.graph[source].type), shortcut)


def _op_title(node: NodeBase) -> str:
    """A layer's own name; for one named by position, with its parent's name (`downsample.0`),
    or at the top level its op (`conv 7x7/2`)."""
    parts = node.path.split(".")
    if not parts[-1].removesuffix("_pad").isdigit():  # `3_pad`: the same-padding of unnamed conv 3
        return parts[-1]
    return ".".join(parts[-2:]) if len(parts) > 1 else describe(node)


def _contiguous(part: Group, parent: Group) -> bool:
    """Whether a part's nodes come one after another in its parent (a shortcut), not interleaved."""
    position = {n.id: i for i, n in enumerate(parent.nodes)}
    spots = [position[n.id] for n in part.nodes]
    return spots[-1] - spots[0] == len(spots) - 1


def _group_colour(group: Group) -> str:
    if group.kind is not None and group.kind != "scope":
        return group.kind
    return next((n.op for n in group.nodes if n.op in ("conv", "linear")), group.nodes[0].op)


def shortcut_edges(graph: Graph) -> set[tuple[int, int]]:
    """IR edges (source id, target id) that form shortcuts: paths into an add or concat from a
    shallower branch, traced back to where they fork off the main path."""
    depth: dict[int, int] = {}
    for node in graph.nodes():
        depth[node.id] = 1 + max((depth[i] for i in node.inputs), default=-1)
    marked: set[tuple[int, int]] = set()
    for node in graph.nodes():
        if node.op not in ("add", "concat") or len(node.inputs) < 2:
            continue
        deepest = max(depth[i] for i in node.inputs)
        for source in node.inputs:
            if depth[source] < deepest:
                _trace_back(graph, source, node.id, marked)
    return marked


def _trace_back(graph: Graph, source: int, target: int, marked: set) -> None:
    while True:
        marked.add((source, target))
        node = graph[source]
        if len(graph.users(source)) != 1 or len(node.inputs) != 1:
            return
        source, target = node.inputs[0], source
