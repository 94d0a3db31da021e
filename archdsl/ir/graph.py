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
    #: what about `size_fixed_by` holds only at the declared size
    size_fixed_why: str = "pad=same with a stride is worked out for the declared size"
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
        """The output node, whose inputs are the values the network returns."""
        return next(n for n in self.nodes() if n.op == "output")

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
