"""The IR graph: typed nodes in a networkx DiGraph, in the order they were built.

Nodes are added only after their inputs, so insertion order is a topological
order; back ends walk `graph.nodes()` and need no sort.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import networkx as nx

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
    dag: nx.DiGraph = field(default_factory=nx.DiGraph)

    def add(self, node: NodeBase) -> NodeBase:
        self.dag.add_node(node.id, node=node)
        for index, source in enumerate(node.inputs):
            self.dag.add_edge(source, node.id, index=index)
        return node

    def replace(self, node: NodeBase) -> None:
        """Swap in a new version of a node (same id and inputs), e.g. with its type filled in."""
        self.dag.nodes[node.id]["node"] = node

    def __getitem__(self, node_id: int) -> NodeBase:
        return self.dag.nodes[node_id]["node"]

    def __len__(self) -> int:
        return self.dag.number_of_nodes()

    def nodes(self) -> Iterator[NodeBase]:
        """All nodes in topological (construction) order."""
        return (data["node"] for _, data in self.dag.nodes(data=True))

    def users(self, node_id: int) -> list[NodeBase]:
        return [self[u] for u in self.dag.successors(node_id)]

    @property
    def output(self) -> NodeBase:
        return next(n for n in self.nodes() if n.op == "output")

    @property
    def output_type(self) -> TensorType | None:
        return self.output.type

    def stateful(self) -> Iterator[NodeBase]:
        """Nodes that own parameters or buffers (conv, bn, linear)."""
        return (n for n in self.nodes() if n.has_state)
