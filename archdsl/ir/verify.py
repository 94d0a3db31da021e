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
    structure, per_node, paths = _walk(graph)
    problems = structure + per_node + paths
    if problems:
        raise VerificationError("invalid IR for %s:\n  %s" % (graph.name, "\n  ".join(problems)))


def _walk(graph: Graph) -> tuple[list[str], list[str], list[str]]:
    """One pass over the nodes: the graph's structure (no cycle, one input and one output node),
    each node's own problems, and the module paths of the nodes with state."""
    per_node, paths = [], []
    earlier: set[int] = set()  # every node's inputs were added before it: construction order is then
    ordered = True             # a topological order, so the graph has no cycle
    ends = {"input": [], "output": []}
    owners: dict[str, int] = {}
    ids = graph.ids()
    for node in graph.nodes():
        inputs, op = node.inputs, node.op
        if ordered and not earlier.issuperset(inputs):
            ordered = False
        earlier.add(node.id)
        if op in ends:
            ends[op].append(node)
        found = _node_problems(node, op, inputs, graph, ids)
        if found:
            where = f"node %{node.id} ({node.op} {node.path})"
            per_node += [f"{where}: {problem}" for problem in found]
        if node.has_state:
            paths += _path_problems(node, graph, owners)
    structure = [] if ordered else ["the graph has a cycle"]
    for op, nodes in ends.items():
        if len(nodes) != 1:
            structure.append(f"expected one {op} node, found {len(nodes)}")
    if len(ends["output"]) == 1:
        structure += _output_names(ends["output"][0])
    return structure, per_node, paths


def _output_names(output) -> list[str]:
    """An output node names none of its inputs (the one unnamed output) or each of them, once."""
    names = output.names
    if names is None:
        return [] if len(output.inputs) == 1 else [f"{len(output.inputs)} outputs without names"]
    if len(names) != len(output.inputs) or len(set(names)) != len(names) or not all(names):
        return [f"output names {names!r} do not name its {len(output.inputs)} inputs once each"]
    return []


def _node_problems(node, op: str, inputs: tuple[int, ...], graph: Graph, ids) -> list[str]:
    """What is wrong with one node, of op `op` and with `inputs` (nothing, for almost every node:
    the messages are made only then)."""
    if op not in NODE_TYPES:
        return ["unknown op"]
    problems = []
    low, high = ARITY[op]
    if not low <= len(inputs) <= high:
        problems.append(f"{len(inputs)} inputs, expected {low}..{high}")
    node_id, out_type = node.id, node.type
    for i in inputs:
        if i >= node_id or i not in ids:
            return problems + ["an input is not an earlier node"]
    if node.span is None:
        problems.append("no source span")
    if out_type is None:
        return problems + ["no inferred type"]
    if node_id in graph.inferred:  # inferred from these very inputs when it was added
        return problems
    expected, issues = infer(node, [graph[i].type for i in inputs])
    if issues or expected != out_type:
        problems.append(f"type {out_type} disagrees with inference ({expected}, {issues})")
    return problems


def _path_problems(node, graph: Graph, owners: dict[str, int]) -> list[str]:
    """A stateful node's path is a module path, and no other node owning state has it (`owners`:
    path -> the node that owns it, so far)."""
    problems = []
    path = node.path
    if not path or path[0] == "." or path[-1] == "." or ".." in path:
        problems.append(f"node %{node.id}: bad module path {path!r}")
    if node.shares is not None:
        return problems + _sharing(graph, node)
    if path in owners:
        problems.append(f"node %{node.id}: module path {path} already used by %{owners[path]}")
    owners[path] = node.id
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
