"""The IR graph: typed nodes in the order they were built, and each node's users.

Nodes are added only after their inputs, so insertion order is a topological
order; back ends walk `graph.nodes()` and need no sort. The graph keeps two dicts
rather than a networkx DiGraph: checking a spec needs nothing else, and importing
networkx cost a third of a `--check` process's start (docs/performance.md);
`graph.dag` builds the DiGraph for code that wants networkx's algorithms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from archdsl.diagnostics import Source, Span
from archdsl.ir.nodes import NodeBase, TensorType


@dataclass
class Graph:
    """A network: its name, declared input, parameter values, and its nodes."""

    name: str
    input_type: TensorType
    params: dict[str, object] = field(default_factory=dict)
    #: the parameter values set from outside the spec (-D, keyword arguments): loading the source
    #: again with them gives this graph, and a parameter computed from another still follows it
    overrides: dict[str, object] = field(default_factory=dict)
    source: Source | None = None
    #: the first statement whose padding was worked out for the declared input size (a strided
    #: `pad=same`), so the built module takes that size only; None where any size works
    size_fixed_by: Span | None = None
    #: what about `size_fixed_by` holds only at the declared size
    size_fixed_why: str = "pad=same with a stride is worked out for the declared size"
    #: node id -> node, in construction order
    _nodes: dict[int, NodeBase] = field(default_factory=dict, repr=False)
    #: node id -> the ids of the nodes that take it as an input (a dict as an ordered set); a node
    #: nothing takes has no entry
    _users: dict[int, dict[int, None]] = field(default_factory=dict, repr=False)
    #: the ids of the nodes whose type was inferred, without problems, from their inputs' types as
    #: they are now (the Emitter records them): the verifier need not infer those again. Replacing
    #: a node takes it and its users out.
    inferred: set[int] = field(default_factory=set, repr=False)
    #: the trainable parameters, as the checker counted them while it built the graph (its budget
    #: counts every node as it is made); None where not counted, or the graph changed since
    parameter_total: int | None = field(default=None, repr=False, compare=False)

    def add(self, node: NodeBase) -> NodeBase:
        self.parameter_total = None
        node_id = node.id
        self._nodes[node_id] = node
        users = self._users
        for source in node.inputs:
            of_source = users.get(source)
            if of_source is None:
                users[source] = of_source = {}
            of_source[node_id] = None
        return node

    def replace(self, node: NodeBase) -> None:
        """Swap in a new version of a node (same id and inputs), e.g. with its type filled in."""
        self.parameter_total = None
        self._nodes[node.id] = node
        self.inferred.discard(node.id)
        self.inferred.difference_update(self._users.get(node.id, ()))

    def __getitem__(self, node_id: int) -> NodeBase:
        return self._nodes[node_id]

    def __contains__(self, node_id: int) -> bool:
        return node_id in self._nodes

    def ids(self):
        """The node ids, as a set-like view (for many membership tests at once)."""
        return self._nodes.keys()

    def __len__(self) -> int:
        return len(self._nodes)

    def nodes(self) -> Iterator[NodeBase]:
        """All nodes in topological (construction) order."""
        return iter(self._nodes.values())

    def successors(self, node_id: int) -> list[int]:
        """The ids of the nodes that take `node_id` as an input, each once, in construction order."""
        return list(self._users.get(node_id, ()))

    def has_users(self, node_id: int) -> bool:
        """Whether any node takes `node_id` as an input."""
        return bool(self._users.get(node_id))

    def users(self, node_id: int) -> list[NodeBase]:
        return [self[u] for u in self.successors(node_id)]

    def ancestors(self, node_id: int) -> set[int]:
        """The ids of every node `node_id` depends on (not itself)."""
        found: set[int] = set()
        stack = list(self[node_id].inputs)
        while stack:
            current = stack.pop()
            if current not in found:
                found.add(current)
                stack.extend(self[current].inputs)
        return found

    @property
    def dag(self):
        """The graph as a new networkx DiGraph: node attribute `node`, edge attribute `index` (the
        input's position). Built on each access; changing it changes nothing here."""
        import networkx as nx

        dag = nx.DiGraph()
        for node in self.nodes():
            dag.add_node(node.id, node=node)
        for node in self.nodes():
            for index, source in enumerate(node.inputs):
                dag.add_edge(source, node.id, index=index)
        return dag

    @property
    def output(self) -> NodeBase:
        """The output node, whose inputs are the values the network returns. A graph has one (the
        verifier holds it to that), made last: the search starts from the end."""
        return next(n for n in reversed(self._nodes.values()) if n.op == "output")

    @property
    def outputs(self) -> list[NodeBase]:
        """The values the network returns, in order: one, or those `output from` lists."""
        return [self[i] for i in self.output.inputs]

    @property
    def output_names(self) -> list[str]:
        """The outputs' names: `output` for the one unnamed output, else as the spec lists them."""
        return list(self.output.names or ("output",))

    @property
    def output_types(self) -> list[TensorType | None]:
        return [node.type for node in self.outputs]

    @property
    def output_type(self) -> TensorType | None:
        """The type of the network's one output; None where it has several (see output_types)."""
        types = self.output_types
        return types[0] if len(types) == 1 else None

    def outputs_text(self) -> str:
        """What the network returns, for a reader: `1000`, or `c3 128x28x28, c4 256x14x14` for
        named outputs."""
        if self.output.names is None:
            return str(self.output_type)
        return ", ".join(f"{name} {t}" for name, t in zip(self.output_names, self.output_types))

    def stateful(self) -> Iterator[NodeBase]:
        """Nodes that own parameters or buffers (conv, bn, linear)."""
        return (n for n in self.nodes() if n.has_state)
