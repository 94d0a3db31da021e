"""The one verifier: every invariant a well-formed IR graph must satisfy.

A graph that fails here is a compiler bug, not a user error; user errors are
reported as diagnostics before a graph is ever handed to the verifier. A node's type is
inferred again from its inputs' types unless the graph records that it was so inferred when the
node was added (`Graph.inferred`, kept by the Emitter): checking a spec then infers each type once.
"""

from __future__ import annotations

from archdsl.ir.graph import Graph
from archdsl.ir.nodes import ARITY, NODE_TYPES
from archdsl.ir.shapes import infer


class VerificationError(Exception):
    """The IR broke an invariant: a bug in archdsl, never in the spec."""


def verify(graph: Graph) -> None:
    """Raise VerificationError listing every broken invariant."""
    problems = _structure(graph) + _per_node(graph) + _paths(graph)
    if problems:
        raise VerificationError("invalid IR for %s:\n  %s" % (graph.name, "\n  ".join(problems)))


def _structure(graph: Graph) -> list[str]:
    problems = []
    if not _inputs_come_first(graph):
        problems.append("the graph has a cycle")
    ops = [n.op for n in graph.nodes()]
    for op in ("input", "output"):
        if ops.count(op) != 1:
            problems.append(f"expected one {op} node, found {ops.count(op)}")
    if ops.count("output") == 1:
        problems += _output_names(graph.output)
    return problems


def _inputs_come_first(graph: Graph) -> bool:
    """Every node's inputs were added before it: construction order is then a topological order,
    so the graph has no cycle."""
    earlier: set[int] = set()
    for node in graph.nodes():
        for i in node.inputs:
            if i not in earlier:
                return False
        earlier.add(node.id)
    return True


def _output_names(output) -> list[str]:
    """An output node names none of its inputs (the one unnamed output) or each of them, once."""
    names = output.names
    if names is None:
        return [] if len(output.inputs) == 1 else [f"{len(output.inputs)} outputs without names"]
    if len(names) != len(output.inputs) or len(set(names)) != len(names) or not all(names):
        return [f"output names {names!r} do not name its {len(output.inputs)} inputs once each"]
    return []


def _per_node(graph: Graph) -> list[str]:
    problems = []
    ids = graph.ids()
    for node in graph.nodes():
        found = _node_problems(node, graph, ids)
        if found:
            where = f"node %{node.id} ({node.op} {node.path})"
            problems += [f"{where}: {problem}" for problem in found]
    return problems


def _node_problems(node, graph: Graph, ids) -> list[str]:
    """What is wrong with one node (nothing, for almost every node: the messages are made only then)."""
    if node.op not in NODE_TYPES:
        return ["unknown op"]
    problems = []
    low, high = ARITY[node.op]
    if not low <= len(node.inputs) <= high:
        problems.append(f"{len(node.inputs)} inputs, expected {low}..{high}")
    for i in node.inputs:
        if i >= node.id or i not in ids:
            return problems + ["an input is not an earlier node"]
    if node.span is None:
        problems.append("no source span")
    if node.type is None:
        return problems + ["no inferred type"]
    if node.id in graph.inferred:  # inferred from these very inputs when it was added
        return problems
    expected, issues = infer(node, [graph[i].type for i in node.inputs])
    if issues or expected != node.type:
        problems.append(f"type {node.type} disagrees with inference ({expected}, {issues})")
    return problems


def _paths(graph: Graph) -> list[str]:
    seen: dict[str, int] = {}
    problems = []
    for node in graph.stateful():
        if not node.path or "" in node.path.split("."):
            problems.append(f"node %{node.id}: bad module path {node.path!r}")
        if node.shares is not None:
            problems += _sharing(graph, node)
            continue
        if node.path in seen:
            problems.append(f"node %{node.id}: module path {node.path} already used by %{seen[node.path]}")
        seen[node.path] = node.id
    return problems


def _sharing(graph: Graph, node) -> list[str]:
    """A node that uses another's state: that node is earlier, owns its state, and has the same path,
    op, attributes and state_dict entries (so one module serves both)."""
    where = f"node %{node.id} ({node.op} {node.path}) shares %{node.shares}"
    if node.shares >= node.id or node.shares not in graph:
        return [f"{where}, which is not an earlier node"]
    owner = graph[node.shares]
    if owner.shares is not None or not owner.has_state:
        return [f"{where}, which owns no state of its own"]
    if (owner.op, owner.path, owner.attrs()) != (node.op, node.path, node.attrs()):
        return [f"{where}, which is another layer ({owner.op} {owner.path})"]
    mine, theirs = (graph[n.inputs[0]].type for n in (node, owner))
    if mine is None or theirs is None or node.state(mine) != owner.state(theirs):
        return [f"{where}, whose state has other shapes"]
    return []
