"""The per-layer summary of a network and its totals, from the IR alone.

`summarize(graph, depth)` lists the module tree down to `depth` path levels. A
group at the last level shows as one row ("layer3  bottleneck x6"), and consecutive
identical blocks fold into one row (`layer3.1..5  bottleneck x5`). Totals count
every node once, whatever the depth.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from archdsl.ir.graph import Graph
from archdsl.ir.memory import activation_bytes
from archdsl.ir.nodes import NodeBase
from archdsl.ir.ops.base import counts_macs
from archdsl.ir.state import node_parameter_count, node_state
from archdsl.backends.summary.costs import node_other_flops, node_macs, peak_activation_bytes
from archdsl.backends.summary.structure import (Group, Item, Run, block_count, default_depth, module_tree, runs,
                                                shown_whole)

#: the path of a top-level statement named only by its position (`9`), its same-padding (`3_pad`), or a run of them
UNNAMED = re.compile(r"\d+(_pad)?(\.\.\d+)?")


@dataclass(frozen=True)
class Cost:
    params: int = 0
    macs: int = 0
    other_flops: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.params + other.params, self.macs + other.macs, self.other_flops + other.other_flops)


@dataclass(frozen=True)
class Row:
    """One line of the table: a layer, a group shown whole, or a folded run of identical blocks."""

    path: str
    op: str
    output: str
    params: int
    macs: int
    other_flops: int
    level: int
    repeat: int = 1

    @property
    def label(self) -> str:
        """How the table names the row: its path, but for a statement named only by its position at
        the top level (`9`, a run `1..3`), its op with the position: `flatten (9)`. The path, the
        module's and the state_dict's name, stays as it is in `path` and the JSON."""
        if not UNNAMED.fullmatch(self.path):
            return self.path
        return f"{self.op.split()[0]} ({self.path})"


@dataclass(frozen=True)
class Totals:
    """Whole-network figures. `macs` counts conv and linear only (torchvision's convention)."""

    params: int
    buffers: int
    macs: int
    other_flops: int
    activation_bytes: int
    peak_activation_bytes: int


@dataclass(frozen=True)
class Summary:
    network: str
    input: str
    #: what the network returns, as one line: `1000`, or `c3 128x28x28, c4 256x14x14` (Graph.outputs_text)
    output: str
    depth: int | str
    rows: tuple[Row, ...]
    totals: Totals
    #: every output's name and type: (`output`, `1000`) for a classifier's one
    outputs: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict:
        """The JSON form: totals at the top level (`params`, `macs`, ...), every output by name
        and type, then the rows."""
        return {"network": self.network, "input": self.input, "output": self.output, **asdict(self.totals),
                "outputs": [{"name": name, "type": t} for name, t in self.outputs],
                "depth": self.depth, "layers": [asdict(r) for r in self.rows]}


def node_cost(node: NodeBase, graph: Graph) -> Cost:
    return Cost(node_parameter_count(node, graph), node_macs(node, graph), node_other_flops(node, graph))


def size(graph: Graph) -> tuple[int, int]:
    """Trainable parameters and MACs, counted as `totals` counts them: all `compile --check`'s
    verdict says, without the memory figures (checking a folder of specs pays this once a spec)."""
    params = graph.parameter_total if graph.parameter_total is not None else \
        sum(node_parameter_count(n, graph) for n in graph.stateful())
    return params, sum(node_macs(n, graph) for n in graph.nodes() if counts_macs(n))


def totals(graph: Graph) -> Totals:
    """The network's totals: the numbers every size report (summary, `compile --check`) uses."""
    cost = sum((node_cost(n, graph) for n in graph.nodes()), Cost())
    buffers = sum(e.numel for n in graph.stateful() for e in node_state(n, graph) if not e.trainable)
    return Totals(cost.params, buffers, cost.macs, cost.other_flops, activation_bytes(graph),
                  peak_activation_bytes(graph))


def summarize(graph: Graph, depth: int | str | None = None) -> Summary:
    """The summary table down to `depth`: a number of module path levels (default: the level of the
    stages), or stage, block or layer as `archdsl render` draws them (see structure.shown_whole)."""
    root = module_tree(graph)
    depth = default_depth(root) if depth is None else depth
    costs = {n.id: node_cost(n, graph) for n in root.nodes}
    rows: list[Row] = []
    _list(root, graph, depth, costs, rows)
    outputs = tuple((name, str(t)) for name, t in zip(graph.output_names, graph.output_types))
    return Summary(graph.name, str(graph.input_type), graph.outputs_text(), depth, tuple(rows), totals(graph), outputs)


def _list(group: Group, graph: Graph, depth: int | str, costs: dict, rows: list[Row]) -> None:
    level = group.level + 1
    for run in runs(group, graph):
        if isinstance(run.first, Group) and not shown_whole(run.first, depth):
            for item in run.items:  # shown in full, so each on its own
                rows.append(_row(Run((item,)), costs, level))
                _list(item, graph, depth, costs, rows)
        else:
            rows.append(_row(run, costs, level))


def _row(run: Run, costs: dict, level: int) -> Row:
    cost = sum((costs[n.id] for n in run.nodes), Cost())
    last = run.items[-1]
    output = last.last.type if isinstance(last, Group) else last.type
    return Row(run.path, describe(run.first, run.count), str(output), cost.params, cost.macs, cost.other_flops,
               level, run.count)


def describe(item: Item, repeat: int = 1) -> str:
    """What an item is, in a few words: `conv 3x3/2 g32`, `bottleneck x6`, `bottleneck g32`, `bottleneck se`."""
    times = f" x{repeat}" if repeat > 1 else ""
    if not isinstance(item, Group):
        return describe_op(item) + times
    if item.role == "stage":
        return f"{item.kind}{_variant(item)} x{block_count(item) * repeat}"
    if item.kind is not None and item.kind != "scope":
        return item.kind + _variant(item) + times + _shared(item)
    return _op_mix(item) + times


def _shared(group: Group) -> str:
    """`, shared by 5` for a block instance applied to five values (its parameters counted once, its
    MACs for every application); else nothing."""
    count = next((f.shared_by for n in group.nodes for f in n.origin if f.path == group.path and f.shared_by), 0)
    return f", shared by {count}" if count else ""


def _op_mix(group: Group) -> str:
    """A small group of layers by its ops: `conv+bn` where each comes once, `conv x3, bn x2, relu x2`
    where some repeat (timm's deep stem); a larger mix by what it holds. A shared instance's layers
    are counted once (its first application's)."""
    counts: dict[str, int] = {}
    for node in group.nodes:
        if any(f.application for f in node.origin):
            continue
        counts[node.op] = counts.get(node.op, 0) + 1
    if len(counts) > 3:
        return _contents(group)
    if all(n == 1 for n in counts.values()):
        return "+".join(counts)
    return ", ".join(f"{op} x{n}" if n > 1 else op for op, n in counts.items())


def _contents(group: Group) -> str:
    """A mixed scope by what it holds: `dense x4, transition x3, 5 layers` (DenseNet's features)."""
    counts: dict[str, int] = {}
    for child in group.children:
        kind = child.kind if isinstance(child, Group) and child.kind not in (None, "scope") else "layer"
        counts[kind] = counts.get(kind, 0) + (block_count(child) if getattr(child, "role", "") == "stage" else 1)
    layers = counts.pop("layer", 0)
    parts = [f"{kind} x{n}" if n > 1 else kind for kind, n in counts.items()]
    if layers:
        parts.append(f"{layers} layer{'s' if layers > 1 else ''}")
    return ", ".join(parts)


def _variant(group: Group) -> str:
    """What sets a block apart from the plain type: ` g32` (grouped convs, ResNeXt), ` se`
    (a sigmoid gate multiplied in, squeeze-and-excitation); else nothing."""
    groups = max((n.groups for n in group.nodes if n.op == "conv"), default=1)
    ops = {n.op for n in group.nodes}
    marks = ([f"g{groups}"] if groups > 1 else []) + (["se"] if {"mul", "sigmoid"} <= ops else [])
    return "".join(" " + m for m in marks)


def describe_op(node: NodeBase) -> str:
    """An op and its geometry: `conv 7x7/2`, `conv 3x3 g32`, `maxpool 3x3/2`, `slice 0:64`, `zeropad 2+3`."""
    if node.op in ("conv", "maxpool", "avgpool"):
        text = f"{node.op} {node.kernel[0]}x{node.kernel[1]}"
        if node.stride != (1, 1):
            text += f"/{node.stride[0]}" if node.stride[0] == node.stride[1] else f"/{node.stride[0]}x{node.stride[1]}"
        if node.op == "conv" and node.groups > 1:
            text += f" g{node.groups}"
        if node.op == "conv" and node.dilation != (1, 1):
            text += f" d{node.dilation[0]}"
        return text
    if node.op == "slice":
        return f"slice {node.start}:{node.start + node.size}"
    if node.op == "zeropad":
        return "zeropad " + _padding_text(node.padding)
    return node.op


def _padding_text(padding) -> str:
    """`3`, or `2+3` (2 before, 3 after) where the two ends differ; height's then width's if they differ."""
    top, bottom, left, right = padding
    axes = [str(a) if a == b else f"{a}+{b}" for a, b in ((top, bottom), (left, right))]
    return axes[0] if axes[0] == axes[1] else " x ".join(axes)


def macs_text(macs: int) -> str:
    """`4.089 GMACs`, `37.0 MMACs`, `3,888 MACs`: a small network never reads `0.000 GMACs`."""
    if macs >= 1e9:
        return f"{macs / 1e9:.3f} GMACs"
    return f"{macs / 1e6:.1f} MMACs" if macs >= 1e6 else f"{macs:,} MACs"


def human(n: float) -> str:
    """`4.089G`, `118.0M`, `9.4K`, `512`."""
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= size:
            return f"{n / size:.{3 if unit == 'G' else 1}f}{unit}"
    return str(int(n))


def mib(n_bytes: int) -> str:
    """`143.3 MiB`; under a mebibyte, `37.5 KiB`."""
    if n_bytes < 2**20:
        return f"{n_bytes / 2**10:.1f} KiB"
    return f"{n_bytes / 2**20:.1f} MiB"


HEADINGS = ("module", "op", "output", "params", "MACs")


def render_text(summary: Summary) -> str:
    """The table and its totals as aligned text."""
    cells = [HEADINGS] + [("  " * (r.level - 1) + r.label, r.op, r.output, f"{r.params:,}" if r.params else "-",
                           human(r.macs) if r.macs else "-") for r in summary.rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADINGS))]
    align = ("<", "<", "<", ">", ">")
    lines = ["  ".join(f"{c:{a}{w}}" for c, a, w in zip(row, align, widths)).rstrip() for row in cells]
    rule = "-" * len(max(lines, key=len))
    t = summary.totals
    facts = [
        ("trainable parameters", f"{t.params:,}", human(t.params)),
        ("buffers", f"{t.buffers:,}", "norm running statistics, not trained"),
        ("MACs (conv + linear)", f"{t.macs:,}", human(t.macs)),
        ("other FLOPs", f"{t.other_flops:,}", "norms, activations, adds, pools, biases; not MACs"),
        ("activations (fp32)", mib(t.activation_bytes), f"per image, all op outputs; peak {mib(t.peak_activation_bytes)} "
                                                         "live in inference"),
    ]
    name_width = max(len(f[0]) for f in facts)
    value_width = max(len(f[1]) for f in facts)
    head = f"{summary.network}: {summary.input} -> {summary.output}"
    totals_lines = [f"{n:<{name_width}}  {v:>{value_width}}  ({note})" for n, v, note in facts]
    return "\n".join([head, "", lines[0], rule, *lines[1:], rule, *totals_lines]) + "\n"
