"""Concatenations of growing lists (DenseNet: each layer concatenates every output before it) as a
chain: cat(a, b, c) after cat(a, b) is cat(cat(a, b), c), which copies the same numbers in the same
order, so the result is identical; a concatenation of one tensor is that tensor."""

from __future__ import annotations

import torch
import torch.fx as fx


def chain_concats(graph: fx.Graph) -> None:
    """Rewrite `graph` in place: repeated concatenations shared, growing ones chained."""
    seen: dict = {}
    for node in list(graph.nodes):
        parts = _parts(node)
        if parts is None:
            continue
        values, dim = parts
        key = (tuple(values), dim)
        if key in seen:
            node.replace_all_uses_with(seen[key])
            graph.erase_node(node)
            continue
        seen[key] = node
        prefix = (tuple(values[:-1]), dim)
        if len(values) > 2 and prefix in seen:
            node.args, node.kwargs = ([seen[prefix], values[-1]], dim), {}


def _parts(node):
    """(the tensors, the dim) of a torch.cat node, or None."""
    if node.op != "call_function" or node.target is not torch.cat:
        return None
    values = node.args[0] if node.args else node.kwargs.get("tensors")
    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, fx.Node) for v in values):
        return None
    return list(values), dim
