"""A View as Graphviz DOT text. Plain text: needs neither the graphviz package nor `dot`."""

from __future__ import annotations

from html import escape

from archdsl.backends.diagram.style import LEGEND, colours, family
from archdsl.backends.diagram.view import Box, Cluster, View, cost_parts
from archdsl.backends.summary.table import Cost

FONT = "Helvetica"
MERGE_SYMBOLS = {"add": "+", "mul": "×"}
CLUSTER_FILLS = ("#f4f7fb", "#fbfcfe", "#ffffff")
#: rough average glyph widths (points) of Helvetica at the cluster label sizes, to size margins
CHAR_PT, BOLD_CHAR_PT, SMALL_CHAR_PT = 6.4, 7.0, 4.9


def to_dot(view: View, rankdir: str = "TB", dpi: int | None = None) -> str:
    """DOT text for `view`, laid out top-to-bottom (TB) or left-to-right (LR); `dpi` sizes bitmaps."""
    resolution = f", dpi={dpi}" if dpi else ""
    lines = [
        f'digraph "{_quote(view.network)}" {{',
        f'  graph [rankdir={rankdir}, fontname="{FONT}", labelloc=t, nodesep=0.3, ranksep=0.32, '
        f'newrank=true, pad=0.3{resolution}, label={_title(view)}];',
        f'  node [shape=box, style="rounded,filled", fontname="{FONT}", fontsize=11, penwidth=1.2, '
        f'margin="0.14,0.05", height=0.3];',
        f'  edge [fontname="{FONT}", fontsize=9, color="#4d4d4d", fontcolor="#5a5a5a", arrowsize=0.6, penwidth=1.0];',
    ]
    for item in view.items:
        lines += _item(item, "  ")
    for edge in view.edges:
        style = ', style=dashed, color="#8c8c8c"' if edge.shortcut else ""
        lines.append(f'  {edge.source} -> {edge.target} [label=" {_quote(edge.label)} "{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _item(item, indent: str) -> list[str]:
    return _cluster(item, indent) if isinstance(item, Cluster) else [indent + _box(item)]


def _cluster(cluster: Cluster, indent: str) -> list[str]:
    """A cluster whose label is a text node beside its first box, not a cluster label: an edge
    entering the cluster runs down the middle and would cross a label written across the top."""
    fill = CLUSTER_FILLS[min(cluster.level, len(CLUSTER_FILLS)) - 1]
    lines = [f"<b>{escape(cluster.title)}</b>", escape(cluster.text)]
    lines += [f'<font point-size="9" color="#555555">{escape(part)}</font>' for part in cost_parts(cluster.cost)]
    label = _rows(lines, align="left", gap=1)
    tag = f"{cluster.id}_label"
    out = [f"{indent}subgraph cluster_{cluster.id} {{",
           f'{indent}  label=""; style="rounded,filled"; fillcolor="{fill}"; color="#8e9bb0"; penwidth=1.0;',
           f'{indent}  {tag} [shape=plain, style="", fontsize=12, label=<{label}>];']
    for item in cluster.items:
        out += _item(item, indent + "  ")
    first = _first_box(cluster)
    if first is not None:
        out.append(f"{indent}  {{rank=same; {tag}; {first.id}}}")
        out.append(f"{indent}  {tag} -> {first.id} [style=invis];")
    out.append(f"{indent}}}")
    return out


def _first_box(cluster: Cluster) -> Box | None:
    for item in cluster.items:
        found = item if isinstance(item, Box) else _first_box(item)
        if found is not None:
            return found
    return None


def _box(box: Box) -> str:
    fill, border = colours(box.colour)
    look = f'fillcolor="{fill}", color="{border}"'
    if box.shape == "merge" and box.colour in MERGE_SYMBOLS:
        return (f'{box.id} [shape=circle, label="{MERGE_SYMBOLS[box.colour]}", fontsize=14, width=0.32, '
                f'fixedsize=true, tooltip="{_quote(box.title)}", {look}];')
    if box.shape == "endpoint":
        label = _rows([f"<b>{escape(box.title)}</b>", escape(box.text)])
        return f'{box.id} [label=<{label}>, style="rounded,bold", {look}];'
    parts = [f"<b>{escape(box.title)}</b>"]
    if box.text != box.title:
        parts.append(escape(box.text))
    detail = _cost_text(box.cost)
    if detail:
        parts.append(f'<font point-size="9" color="#444444">{escape(detail)}</font>')
    return f'{box.id} [label=<{_rows(parts)}>, {look}];'


def _rows(lines: list[str], align: str | None = None, gap: int = 0) -> str:
    """Lines of a label as the rows of a borderless table. Lines joined by <br/> sit so close
    that at 96 dpi a bold title's underscores (`resnet_block1`) strike through the line below;
    table rows are spaced by each line's full height, plus `gap` points."""
    where = f' align="{align}"' if align else ""
    cells = "".join(f"<tr><td{where}>{line}</td></tr>" for line in lines)
    return f'<table border="0" cellspacing="{gap}" cellpadding="0">{cells}</table>'


def _cost_text(cost: Cost) -> str:
    return " · ".join(cost_parts(cost))


def _title(view: View) -> str:
    head = f'<font point-size="18"><b>{escape(view.network)}</b></font>'
    facts = escape(view.facts())
    used = {family(b.colour) for b in view.boxes()}
    keys = [k for k in LEGEND if k in used] + sorted(k for k in used if k not in LEGEND and k != "endpoint")
    swatches = "".join(f'<td bgcolor="{colours(k)[0]}" color="{colours(k)[1]}" border="1" cellpadding="3">'
                       f'<font point-size="10">{escape(k)}</font></td>' for k in keys)
    return (f'<<table border="0" cellspacing="4" cellpadding="0"><tr><td>{head}</td></tr>'
            f'<tr><td><font point-size="12">{facts}</font></td></tr>'
            f'<tr><td><table border="0" cellspacing="5" cellpadding="0"><tr>{swatches}</tr></table></td></tr>'
            f"</table>>")


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
