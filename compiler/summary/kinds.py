"""Roles and kinds of module-tree groups, read from the IR's record of where each node came from.

Every node carries the frames that made it (archdsl.ir.origin): a stage row (`layer3`, of a
block type) whose sub-groups are its blocks (`layer3.0`); one block (a user block's unit, a
`residual`, a `concat`); a named scope. Groups inside a block are its parts.
"""

from __future__ import annotations

from archdsl.ir.graph import Graph


def assign_kinds(graph: Graph, root, groups: list) -> None:
    """Fill in `role` and `kind` of every group under `root` from the nodes' origins."""
    frames = {}
    for node in graph.nodes():
        for frame in node.origin:
            frames.setdefault(frame.path, frame)
    _classify(root, frames)


def _classify(group, frames: dict) -> None:
    for child in group.groups:
        if group.role in ("block", "part"):
            child.role = "part"
        elif group.role == "stage":
            child.role, child.kind = "block", group.kind
        else:
            _from_frame(child, frames.get(child.path))
        _classify(child, frames)
    blocks = [c for c in group.groups if c.role == "block"]
    if group.role == "scope" and blocks and len(blocks) == len(group.children) and len({b.kind for b in blocks}) == 1:
        group.role, group.kind = "stage", blocks[0].kind


def _from_frame(group, frame) -> None:
    if frame is None:
        return
    group.kind = frame.kind
    if frame.role == "row":
        group.role = "stage" if group.groups else "block"
    elif frame.role == "block":
        group.role = "block"
