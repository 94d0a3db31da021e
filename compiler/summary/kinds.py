"""Roles and kinds of module-tree groups, read from the statements that made their nodes.

Every IR node carries the span of the statement (or stage-table entry) it came
from. A group's statement is the innermost one enclosing all its nodes: a stage
row makes a stage (`layer3`) whose sub-groups are its blocks (`layer3.0`);
`residual` and `concat` make hand-written blocks; `scope` a plain group.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from archdsl.ir.graph import Graph
from archdsl.semantics.blocks import registry
from archdsl.semantics.builder import HEADER_WORDS, STRUCTURE, split_name
from archdsl.semantics.ops import OPS
from archdsl.syntax import tree as T

#: structure words that make one hand-written block
BLOCK_WORDS = ("residual", "concat")


@dataclass(eq=False)
class Statement:
    """A statement, the source region it covers (with its body), and what it makes."""

    parent: Statement | None
    start: tuple[int, int]
    end: tuple[int, int]
    word: str
    #: the block type, for a stage row
    block: str | None

    def encloses(self, span) -> bool:
        return self.start <= (span.line, span.col) and (span.end_line, span.end_col) <= self.end

    def chain(self) -> list[Statement]:
        out, s = [], self
        while s is not None:
            out.append(s)
            s = s.parent
        return out


def read_statements(spec: T.Spec) -> list[Statement]:
    """Every statement of a spec, parents before their bodies."""
    blocks = registry()
    known = (*OPS, *blocks, *STRUCTURE)
    out: list[Statement] = []

    def visit(stmts, parent: Statement | None, stage_block: str | None) -> None:
        for stmt in stmts:
            if stmt.word in HEADER_WORDS:
                continue
            block = None if stmt.word in STRUCTURE else _row_block(stmt, known, blocks, stage_block)
            s = Statement(parent, (stmt.span.line, stmt.span.col), _end(stmt), stmt.word, block)
            out.append(s)
            inner = stmt.args[0].name if stmt.word == "stages" and stmt.args and isinstance(
                stmt.args[0], T.Name) else stage_block
            visit(stmt.body, s, inner)

    visit(spec.statements, None, None)
    return out


def _row_block(stmt: T.Statement, known, blocks, stage_block: str | None) -> str | None:
    _, op, args = split_name(stmt, known)
    if op is not None and op.name in blocks:
        return op.name
    if op is None or any(isinstance(a, T.ListValue) for a in args):
        return stage_block
    return None


def _end(stmt: T.Statement) -> tuple[int, int]:
    ends = [(stmt.span.end_line, stmt.span.end_col)] + [_end(s) for s in stmt.body]
    return max(ends)


def assign_kinds(graph: Graph, root, groups: list) -> None:
    """Fill in `role` and `kind` of every group under `root` (all listed in `groups`) from the spec."""
    statements = _statements_of(graph)
    if not statements:
        return
    owner = {}
    starts = [s.start for s in statements]
    for node in root.nodes:
        if node.span is not None and node.span.file == graph.source.name:
            owner[node.id] = _innermost(statements, starts, node.span)
    made_by = {g: _common(owner.get(n.id) for n in g.nodes) for g in groups}
    _classify(root, made_by, None)


def _statements_of(graph: Graph) -> list[Statement]:
    if graph.source is None:
        return []
    from archdsl.syntax.parser import parse

    spec, _ = parse(graph.source)
    return read_statements(spec) if spec is not None else []


def _innermost(statements: list[Statement], starts: list[tuple[int, int]], span) -> Statement | None:
    """The innermost statement enclosing `span`. `statements` come in source order, parents before
    their bodies; the last one starting at or before the span is it or lies inside it, so the
    answer is found among its enclosing statements (a search, not a scan: specs of thousands of
    statements stay fast)."""
    found = bisect_right(starts, (span.line, span.col)) - 1
    s = statements[found] if found >= 0 else None
    while s is not None and not s.encloses(span):
        s = s.parent
    return s


def _common(owners) -> Statement | None:
    """The innermost statement enclosing all of `owners`."""
    chains = [s.chain() for s in set(owners) if s is not None]
    if not chains:
        return None
    shared = set.intersection(*(set(map(id, c)) for c in chains))
    return next((s for s in chains[0] if id(s) in shared), None)


def _classify(group, made_by: dict, parent_statement: Statement | None) -> None:
    for child in group.groups:
        s = made_by[child]
        _set_role(child, s, parent_statement, group, made_by)
        _classify(child, made_by, s)
    blocks = [c for c in group.groups if c.role == "block"]
    if group.role == "scope" and blocks and len(blocks) == len(group.children) and len({b.kind for b in blocks}) == 1:
        group.role, group.kind = "stage", blocks[0].kind


def _set_role(group, s: Statement | None, parent_statement, parent, made_by: dict) -> None:
    if parent.role in ("block", "part"):
        group.role = "part"
    elif s is None:
        return
    elif s.block is not None:
        group.kind = s.block
        made_here = any(made_by[c] is s for c in group.groups)
        group.role = "stage" if made_here and parent_statement is not s else "block"
    elif s.word in BLOCK_WORDS:
        group.role, group.kind = "block", s.word
    elif s.word == "scope":
        group.kind = "scope"
