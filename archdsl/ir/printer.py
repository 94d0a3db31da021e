"""A canonical text form of the IR, one node a line, for golden tests and debugging."""

from __future__ import annotations

from archdsl.ir.graph import Graph
from archdsl.ir.nodes import NodeBase


def _format_value(value) -> str:
    if isinstance(value, tuple) and value and all(isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str)
                                                  for v in value):
        return ",".join(f"{k}={v}" for k, v in value)  # axis sizes: `sizes=p1=16,p2=16`
    if isinstance(value, tuple) and value and all(isinstance(v, tuple) for v in value):
        return ",".join(":".join(map(str, v)) for v in value)  # per-axis (axis, ...) entries
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, str) for v in value):
        return ",".join(value)  # names: `names=c3,c4,c5`
    if isinstance(value, (tuple, list)):
        return "x".join(str(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def format_node(node: NodeBase, type_text: str | None = None) -> str:
    """One node's line; `type_text` in place of its type (an output node's, listing every output's)."""
    inputs = ", ".join(f"%{i}" for i in node.inputs)
    attrs = " ".join(f"{k}={_format_value(v)}" for k, v in node.attrs().items() if v is not None and v != ())
    head = f"%{node.id} = {node.op}({inputs})"
    shares = f" shares=%{node.shares}" if node.shares is not None else ""  # whose state it uses
    return f"{head}{' ' + attrs if attrs else ''}{shares} @{node.path} : {type_text or node.type}"


def dump(graph: Graph) -> str:
    """The whole graph: a header, then every node in order."""
    params = " ".join(f"{k}={_format_value(v)}" for k, v in sorted(graph.params.items()))
    header = f"network {graph.name} input {graph.input_type}" + (f" params {params}" if params else "")
    outputs = ", ".join(map(str, graph.output_types))
    lines = [format_node(n, outputs if n.op == "output" else None) for n in graph.nodes()]
    return "\n".join([header, *lines]) + "\n"
