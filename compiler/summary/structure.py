"""The module tree of a network, read from its IR paths, and what each group is.

IR paths nest like torch modules (`layer3.4.conv2`), so the tree is theirs. The
spec's own text says what a group *is*: a stage row (`layer3`, "bottleneck x6"),
one block of it (`layer3.4`), a hand-written `residual`/`concat`, or a plain
`scope`. Consecutive sibling groups with identical structure fold into one run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from archdsl.ir.graph import Graph
from archdsl.ir.nodes import NodeBase
from archdsl.backends.summary.kinds import assign_kinds

#: nodes that are endpoints, not layers: they appear in no group
ENDPOINTS = ("input", "output")
#: the named depths of `summary` and `render`: one row or box per stage, per block, or per layer
DEPTHS = ("stage", "block", "layer")


@dataclass(eq=False)
class Group:
    """A path prefix shared by several IR nodes (`layer3`, `layer3.4`, `features`)."""

    path: str
    level: int
    children: list[Item] = field(default_factory=list)
    nodes: list[NodeBase] = field(default_factory=list)
    #: "stage" (a row of repeated blocks), "block" (one of them), "scope" (anything else), "root"
    role: str = "scope"
    #: the block type (`bottleneck`, `dense`, ...) or structure word (`residual`, `scope`); None if unknown
    kind: str | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def groups(self) -> list[Group]:
        return [c for c in self.children if isinstance(c, Group)]

    @property
    def last(self) -> NodeBase:
        return self.nodes[-1]


Item = Union[Group, NodeBase]


@dataclass(frozen=True)
class Run:
    """One child of a group, or several consecutive identical sibling groups folded together."""

    items: tuple[Item, ...]

    @property
    def first(self) -> Item:
        return self.items[0]

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def path(self) -> str:
        """`layer3.1..5` or `denseblock1.denselayer1..6` for a run, the plain path for one item."""
        first, last = self.items[0].path, self.items[-1].path.rsplit(".", 1)[-1]
        if len(self.items) == 1:
            return first
        stem = first.rsplit(".", 1)[-1].rstrip("0123456789")
        if stem and last.startswith(stem) and last[len(stem):].isdigit():
            last = last[len(stem):]
        return f"{first}..{last}"

    def name_in(self, parent: Group) -> str:
        """The run's path below `parent`, keeping the parent's name before a bare number:
        `layer3.1..5` in `layer3`, `denselayer1..6` in `features.denseblock1`."""
        path = self.path
        if not parent.path:
            return path
        inner = path[len(parent.path) + 1:]
        return f"{parent.name}.{inner}" if inner[:1].isdigit() else inner

    @property
    def nodes(self) -> list[NodeBase]:
        return [n for item in self.items for n in item_nodes(item)]


def item_nodes(item: Item) -> list[NodeBase]:
    return item.nodes if isinstance(item, Group) else [item]


def module_tree(graph: Graph, leave_out=frozenset()) -> Group:
    """The network's groups, children in order of first appearance, roles and kinds filled in
    (the nodes `leave_out` names are in none: a diagram draws a shared instance's later applications
    with the first's boxes).

    A node whose path names a group (a `concat` statement's join, at `mix` beside `mix.0`,
    `mix.1`) belongs inside that group.
    """
    root = Group("", 0, role="root")
    groups: dict[str, Group] = {"": root}
    for node in graph.nodes():
        if node.op in ENDPOINTS or node.id in leave_out:
            continue
        parent = root
        root.nodes.append(node)
        parts = node.path.split(".")
        depth = len(parts) if node.path in groups else len(parts) - 1
        for level in range(1, depth + 1):
            prefix = ".".join(parts[:level])
            group = groups.get(prefix)
            if group is None:
                group = groups[prefix] = Group(prefix, level)
                parent.children.append(group)
            group.nodes.append(node)
            parent = group
        parent.children.append(node)
    assign_kinds(graph, root, list(walk_groups(root)))
    return root


def walk_groups(group: Group):
    """Every group below `group`, parents before children."""
    for child in group.groups:
        yield child
        yield from walk_groups(child)


def signature(group: Group, graph: Graph) -> tuple:
    """What makes sibling groups the same block: ops, attributes and wiring, not names or input width.

    DenseNet's layers differ only in how many channels they are fed; ResNet's first block of
    a stage differs in its stride and projection, so it stands apart from the rest.
    """
    index = {n.id: i for i, n in enumerate(group.nodes)}
    outside: dict[int, int] = {}
    prefix = len(group.path) + 1
    parts = []
    for node in group.nodes:
        wiring = tuple(index[i] if i in index else -1 - outside.setdefault(i, len(outside)) for i in node.inputs)
        parts.append((node.path[prefix:], node.op, repr(node.attrs()), wiring))
    return group.kind, group.role, tuple(parts)


def runs(group: Group, graph: Graph) -> list[Run]:
    """The children of `group`, consecutive identical sibling groups folded into one run."""
    out: list[Run] = []
    previous = None
    for child in group.children:
        sig = signature(child, graph) if isinstance(child, Group) else None
        if sig is not None and sig == previous:
            out[-1] = Run(out[-1].items + (child,))
        else:
            out.append(Run((child,)))
        previous = sig
    return out


def block_count(group: Group) -> int:
    """How many blocks a stage holds."""
    return sum(1 for c in group.groups if c.role == "block")


def default_depth(root: Group) -> int:
    """The level where stages sit (each then shows as one folded row), or the deepest level."""
    stages = [g.level for g in walk_groups(root) if g.role == "stage"]
    if stages:
        return min(stages)
    return 1 + max((g.level for g in walk_groups(root)), default=0)


def shown_whole(group: Group, depth: str | int) -> bool:
    """Whether `group` shows as one summary row or one diagram box at `depth`: a number of module
    path levels (a group at that level or deeper), or a named depth. `stage`: every stage, block and
    part whole; `block`: stages open, their blocks whole; `layer`: nothing whole. At `stage` and
    `block` a group holding no stage or block at all (a plain stem) is one row or box too."""
    if isinstance(depth, int):
        return group.level >= depth
    if depth not in DEPTHS:
        raise ValueError(f"depth must be one of {', '.join(DEPTHS)} or a number of path levels, not {depth!r}")
    if depth == "layer":
        return False
    whole = ("stage", "block", "part") if depth == "stage" else ("block", "part")
    return group.role in whole or not holds_blocks(group)


def holds_blocks(group: Group) -> bool:
    """Whether a stage or a block sits anywhere below `group`."""
    return any(g.role in ("stage", "block") or holds_blocks(g) for g in group.groups)
