"""The parameters and buffers each stateful op owns, derived from the IR alone (each op
class's `state`, archdsl.ir.ops).

This is the contract the torch lowering fulfils: the same keys and shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from archdsl.ir.graph import Graph
from archdsl.ir.nodes import NodeBase


@dataclass(frozen=True)
class StateEntry:
    key: str
    shape: tuple[int, ...]
    trainable: bool

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def node_state(node: NodeBase, graph: Graph) -> list[StateEntry]:
    """The state_dict entries of one node (empty for ops without state, and for a node that uses the
    state of another: a shared block's later applications)."""
    if not node.has_state or node.shares is not None:
        return []
    in_type = graph[node.inputs[0]].type if node.inputs else node.type  # a learned tensor has no input
    if in_type is None:
        return []
    return [StateEntry(f"{node.path}.{e.suffix}" if e.suffix else node.path, e.shape, e.trainable)
            for e in node.state(in_type)]


def state_entries(graph: Graph) -> list[StateEntry]:
    """Every state_dict entry of the network, in construction order."""
    return [e for node in graph.stateful() for e in node_state(node, graph)]


def node_parameter_count(node: NodeBase, graph: Graph) -> int:
    """The trainable parameters one node owns (what a summary row and the budget count). The
    budget counts every node as it is made, so this skips naming the entries. A node that uses the
    state of another (a shared block's later application) owns none."""
    if not node.has_state or node.shares is not None:
        return 0
    in_type = graph[node.inputs[0]].type if node.inputs else node.type  # as node_state takes it
    if in_type is None:
        return 0
    count = 0
    for entry in node.state(in_type):
        if entry.trainable:
            count += math.prod(entry.shape)
    return count


def parameter_count(graph: Graph) -> int:
    """The network's trainable parameters."""
    return sum(node_parameter_count(node, graph) for node in graph.stateful())
