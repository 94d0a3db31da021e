"""Hover text: what a statement makes, read from the IR (types, parameters, MACs), and what a
block definition takes and makes at each of its uses."""

from __future__ import annotations

from archdsl.lsp.document import Analysis
from archdsl.lsp.navigate import walk, words
from archdsl.syntax import tree as T

#: at most this many uses of a block, or walks of a statement in a block body, are listed
MAX_LISTED = 4


def hover_text(analysis: Analysis, chain: list[T.Statement], blocks: dict[str, T.Statement]) -> str | None:
    """Markdown for the innermost statement of `chain`; None where there is nothing to say."""
    stmt = chain[-1]
    if stmt.word == "block":
        return _definition(analysis, stmt, blocks)
    if stmt.word == "input" and len(chain) == 1 and analysis.graph is not None:
        return f"**input** `{analysis.graph.input_type}`"
    runs = analysis.nodes_of(stmt)
    if not runs:  # a spec with errors has no IR: its diagnostics are what there is to see
        return None
    title = _title(stmt, blocks)
    row = _row([analysis.graph[i] for i in runs[0]])
    if title.endswith("`stage row`") and row is not None:
        title = title.replace("`stage row`", f"`{row.kind}` row")
    lines = [title]
    for nodes in runs[:MAX_LISTED]:
        lines.append(_made(analysis, nodes))
    if len(runs) > MAX_LISTED:
        lines.append(f"… and {len(runs) - MAX_LISTED} more")
    if len(runs) > 1:
        lines.append(f"made {len(runs)} times; all together: {_costs(analysis, [i for r in runs for i in r])}")
    return "\n\n".join(lines)


def _title(stmt: T.Statement, blocks: dict[str, T.Statement]) -> str:
    from archdsl.semantics.builder import split_name

    name, op, _ = split_name(stmt, (*words(), *blocks))
    kind = op.name if op is not None else "stage row"
    if op is not None and op.name in blocks:
        kind = f"{op.name} (block)"
    elif stmt.word in ("stem", "head", "body", "stages", "scope", "residual", "concat"):
        kind = stmt.word
        name = stmt.args[0].name if stmt.args and isinstance(stmt.args[0], T.Name) and stmt.word != "stages" \
            else None
    return f"**{name}** · `{kind}`" if name else f"`{kind}`"


def _made(analysis: Analysis, ids: range) -> str:
    graph = analysis.graph
    nodes = [graph[i] for i in ids]
    inside = set(ids)
    inputs = list(dict.fromkeys(i for node in nodes for i in node.inputs if i not in inside))
    shown_in = ", ".join(str(graph[i].type) for i in inputs) or "none"
    last = nodes[-1]
    line = f"`{shown_in}` → `{last.type}`"
    units = _units(nodes)
    path = _common_path([n.path for n in nodes])
    where = f" at `{path}`" if path else ""
    extra = f" · {units} units" if units and units > 1 else ""
    count = f"{len(nodes)} node" + ("s" if len(nodes) > 1 else "")
    return f"{line}{where}{extra}\n\n{_costs(analysis, ids)} · {count}"


def _common_path(paths: list[str]) -> str:
    """The module path all of `paths` lie under (`layer1` for `layer1.0.conv1` ... `layer1.2.relu`)."""
    parts = [p.split(".") for p in paths if p]
    common = parts[0] if parts else []
    for other in parts[1:]:
        n = 0
        while n < min(len(common), len(other)) and common[n] == other[n]:
            n += 1
        common = common[:n]
    return ".".join(common)


def _units(nodes) -> int | None:
    """How many blocks a stage row made: the block frames just inside the row's frame."""
    row = _row(nodes)
    if row is None:
        return None
    depth = nodes[0].origin.index(row) + 1
    return len({n.origin[depth].path for n in nodes if len(n.origin) > depth and n.origin[depth].role == "block"})


def _row(nodes):
    """The innermost frame all of `nodes` share, where it is a stage row's."""
    first = nodes[0].origin
    common = 0
    while common < len(first) and all(len(n.origin) > common and n.origin[common] == first[common] for n in nodes):
        common += 1
    return first[common - 1] if common and first[common - 1].role == "row" else None


def _costs(analysis: Analysis, ids) -> str:
    from archdsl.backends.summary.table import human, macs_text, node_cost

    graph = analysis.graph
    params = macs = 0
    for i in ids:
        cost = node_cost(graph[i], graph)
        params, macs = params + cost.params, macs + cost.macs
    return f"params {params:,} ({human(params)}) · {macs_text(macs)}"


def _definition(analysis: Analysis, block: T.Statement, blocks: dict[str, T.Statement]) -> str:
    """A block definition: how a use is written, then each use's types and costs."""
    from archdsl.semantics.builder import split_name

    head = block.args[0].name if block.args and isinstance(block.args[0], T.Name) else "?"
    params = [a.name for a in block.args[1:] if isinstance(a, T.Name)]
    params += [f"{o.name}={_text(o.value)}" for o in block.options]
    lines = [f"**block** `{' '.join([head, *params])}`"]
    known = (*words(), *blocks)
    tree = analysis.tree.statements if analysis.tree else ()
    uses = [stmt for stmt in walk(tree) if stmt.word != "block"
            and (op := split_name(stmt, known)[1]) is not None and op.name == head]
    runs = [(use, r) for use in uses for r in analysis.nodes_of(use)]
    for use, nodes in runs[:MAX_LISTED]:
        lines.append(f"line {use.span.line}: {_made(analysis, nodes)}")
    if len(runs) > MAX_LISTED:
        lines.append(f"… and {len(runs) - MAX_LISTED} more uses")
    if not runs and analysis.graph is not None:
        lines.append("not used in this spec")
    return "\n\n".join(lines)


def _text(value) -> str:
    span = value.span
    if span.source is None or span.line != span.end_line:
        return "…"
    return span.source.line(span.line)[span.col - 1:span.end_col - 1]
