"""A View as a Mermaid flowchart, for Markdown pages that render Mermaid (GitHub, GitLab, ...)."""

from __future__ import annotations

from archdsl.backends.diagram.style import colours, css_class
from archdsl.backends.diagram.view import Box, View, cost_parts
from archdsl.backends.summary.table import Cost

MERGE_SYMBOLS = {"add": "+", "mul": "×"}


def to_mermaid(view: View, rankdir: str = "TB") -> str:
    """Mermaid text for `view`: clusters as subgraphs, shapes on edges, shortcuts dotted."""
    title = f"{view.network} · {view.facts()}".replace('"', "'")
    lines = ["---", f'title: "{title}"', "---", f"flowchart {rankdir}"]
    for item in view.items:
        lines += _item(item, "  ")
    for edge in view.edges:
        arrow = "-.->" if edge.shortcut else "-->"
        lines.append(f'  {edge.source} {arrow}|"{_text(edge.label)}"| {edge.target}')
    lines += _classes(view.boxes())
    return "\n".join(lines) + "\n"


def _item(item, indent: str) -> list[str]:
    if isinstance(item, Box):
        return [indent + _box(item)]
    title = f"{item.title} · {item.text}" + (f" · {_cost(item.cost)}" if _cost(item.cost) else "")
    lines = [f'{indent}subgraph {item.id}["{_text(title)}"]', f"{indent}  direction TB"]
    for child in item.items:
        lines += _item(child, indent + "  ")
    return lines + [f"{indent}end"]


def _box(box: Box) -> str:
    if box.shape == "merge" and box.colour in MERGE_SYMBOLS:
        return f'{box.id}(("{MERGE_SYMBOLS[box.colour]}"))'
    parts = [f"<b>{_text(box.title)}</b>"]
    if box.text != box.title:
        parts.append(_text(box.text))
    if _cost(box.cost):
        parts.append(f"<small>{_cost(box.cost)}</small>")
    label = "<br/>".join(parts)
    return f'{box.id}(["{label}"])' if box.shape == "endpoint" else f'{box.id}["{label}"]'


def _cost(cost: Cost) -> str:
    return " · ".join(cost_parts(cost))


def _classes(boxes: list[Box]) -> list[str]:
    by_class: dict[str, list[str]] = {}
    fills: dict[str, tuple[str, str]] = {}
    for box in boxes:
        name = css_class(box.colour)
        by_class.setdefault(name, []).append(box.id)
        fills[name] = colours(box.colour)
    lines = []
    for name, ids in by_class.items():
        fill, border = fills[name]
        lines.append(f"  classDef {name} fill:{fill},stroke:{border},color:#111")
        lines.append(f"  class {','.join(ids)} {name}")
    return lines


def _text(text: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
