"""A network's feature maps, from its IR alone (no torch): timm's `features_only` and `feature_info`.

A classifier's feature points lie on its *trunk* (the values every path from the input to the
output passes through) before its *head* (the first trunk value that is a global or adaptive
pool, or flat). At each reduction level, the product of the strides so far, the point is the
last trunk value of that level, passing over the values inside a construct that begins at the
level and ends at a later one (a DenseNet transition's norm, relu and conv before its pool; a
MobileNet block's expansion before its strided depthwise conv). For torchvision's ResNet-50
that is the stem's `relu` (64 channels, reduction 2), then `layer1` .. `layer4` (256 .. 2048;
4 .. 32), as timm's `features_only` ResNet-50. A network that lists its outputs
(`output from c3, c4, c5`) has those as its points, named as listed (but one listed flat
output, a classifier's logits, is its head's as any classifier's).

A point's module name is the outermost row, block or scope that ends at it (`layer1`), else its
own path (`relu`). `features_only` keeps what the chosen points need and nothing after them: the
head's parameters are gone, every other state_dict key is the full network's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import networkx as nx

from archdsl.ir import nodes as N
from archdsl.ir.graph import Graph
from archdsl.ir.origin import Frame
from archdsl.ir.verify import verify

#: trunk values that begin a classifier's head: the pool to one value per channel, or a flatten
HEAD_OPS = ("global_avgpool", "adaptive_avgpool", "adaptive_maxpool", "flatten")
#: ops whose stride multiplies the reduction; others change it only by the ratio of their sizes
STRIDED = ("conv", "maxpool", "avgpool")


class FeatureError(ValueError):
    """A network without feature maps to take, or out_indices that select none of them."""


@dataclass(frozen=True)
class Feature:
    """One feature point: the IR node (its id in the graph it was found in) and what timm reports."""

    node: int
    channels: int
    reduction: int | float
    module: str

    def as_dict(self, index: int) -> dict:
        """timm's form of one point."""
        return {"num_chs": self.channels, "reduction": self.reduction, "module": self.module, "index": index}


class FeatureInfo:
    """timm's FeatureInfo, worked out from the IR: every feature point, and those `out_indices` selects.

    As timm's, `channels()`, `reduction()` and `module_name()` give the selected points' values,
    and with `idx` (an index or a list of indices into all the points) those points' values.
    """

    def __init__(self, features: Sequence[Feature], out_indices: Sequence[int] | None = None):
        self.features = tuple(features)
        self.out_indices = out_indices_arg(out_indices, len(self.features))
        self.info = [f.as_dict(i) for i, f in enumerate(self.features)]

    def get(self, key: str, idx: int | Sequence[int] | None = None):
        """`key` (`num_chs`, `reduction`, `module`) of the selected points, or of the points at `idx`."""
        if idx is None:
            return [self.info[i][key] for i in self.out_indices]
        if isinstance(idx, (tuple, list)):
            return [self.info[i][key] for i in idx]
        return self.info[idx][key]

    def get_dicts(self, keys: Sequence[str] | None = None, idx: int | Sequence[int] | None = None):
        """The points' dicts (only `keys` of each, if given): the selected ones, or those at `idx`."""
        chosen = self.out_indices if idx is None else idx
        pick = (lambda d: d) if keys is None else (lambda d: {k: d[k] for k in keys})
        if isinstance(chosen, (tuple, list)):
            return [pick(self.info[i]) for i in chosen]
        return pick(self.info[chosen])

    def channels(self, idx: int | Sequence[int] | None = None):
        return self.get("num_chs", idx)

    def reduction(self, idx: int | Sequence[int] | None = None):
        return self.get("reduction", idx)

    def module_name(self, idx: int | Sequence[int] | None = None):
        return self.get("module", idx)

    def __getitem__(self, item: int) -> dict:
        return self.info[item]

    def __len__(self) -> int:
        return len(self.info)

    def __repr__(self) -> str:
        points = ", ".join(f"{d['module']} {d['num_chs']}@{d['reduction']}" for d in self.info)
        return f"FeatureInfo([{points}], out_indices={self.out_indices})"


def out_indices_arg(out_indices, count: int) -> tuple[int, ...]:
    """`out_indices` as indices 0..count-1 (all of them for None; a negative index counts from the
    end, as in Python). TypeError unless it is a tuple or list of whole numbers; FeatureError
    (a ValueError) for an empty one, an index out of range or one given twice."""
    if out_indices is None:
        return tuple(range(count))
    if not isinstance(out_indices, (tuple, list)) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in out_indices):
        raise TypeError(f"out_indices must be a tuple or list of whole numbers, like (1, 2, 3), not {out_indices!r}")
    if not out_indices:
        raise FeatureError(f"out_indices is empty: choose at least one of the {count} feature maps (0 to {count - 1})")
    wrong = [i for i in out_indices if not -count <= i < count]
    if wrong:
        raise FeatureError(f"out_indices {tuple(out_indices)}: {wrong[0]} is out of range; this network has "
                           f"{count} feature maps, 0 to {count - 1}")
    chosen = tuple(i % count for i in out_indices)
    if len(set(chosen)) != len(chosen):
        raise FeatureError(f"out_indices {tuple(out_indices)} names a feature map twice")
    return chosen


def feature_info(graph: Graph, out_indices: Sequence[int] | None = None) -> FeatureInfo:
    """The feature points of `graph`, with `out_indices` selected (default: all of them)."""
    return FeatureInfo(feature_points(graph), out_indices)


def features_only(graph: Graph, out_indices: Sequence[int] | None = None) -> tuple[Graph, FeatureInfo]:
    """A new graph returning the selected feature maps (a list, in the order of `out_indices`),
    pruned of everything that none of them needs; and its FeatureInfo."""
    info = feature_info(graph, out_indices)
    chosen = [info.features[i] for i in info.out_indices]
    keep = set().union(*(nx.ancestors(graph.dag, f.node) | {f.node} for f in chosen))
    kept = [node for node in graph.nodes() if node.id in keep]
    fixed = graph.size_fixed_by if any(node.span == graph.size_fixed_by for node in kept) else None
    pruned = Graph(name=graph.name, input_type=graph.input_type, params=dict(graph.params),
                   overrides=dict(graph.overrides), source=graph.source, size_fixed_by=fixed)
    ids: dict[int, int] = {}
    for node in kept:
        ids[node.id] = len(pruned)
        pruned.add(node.model_copy(update={"id": ids[node.id], "inputs": tuple(ids[i] for i in node.inputs)}))
    first = graph[chosen[0].node]
    pruned.add(N.Output(id=len(pruned), inputs=tuple(ids[f.node] for f in chosen), path="output",
                        span=graph.output.span, type=first.type, names=_unique([f.module for f in chosen])))
    verify(pruned)
    return pruned, info


def feature_points(graph: Graph) -> list[Feature]:
    """Every feature point of `graph`, in order (see the module's docstring)."""
    level = reduction_levels(graph)
    outputs = graph.outputs
    if graph.output.names is not None and (len(outputs) > 1 or not (outputs[0].type is None or outputs[0].type.is_flat)):
        return [_declared(graph, node, name, level) for node, name in zip(graph.outputs, graph.output_names)]
    ends = _frame_ends(graph)
    return [Feature(n.id, n.type.channels, _reduction(level[n.id]), module_name(n, ends))
            for n in _trunk_points(graph, level)]


def reduction_levels(graph: Graph) -> dict[int, float]:
    """Each node's reduction: the product of the strides on its way from the input; an op without
    a stride that resizes (upsample, deconv) by the power of two nearest the ratio of its sizes; an
    upsample to another value's size takes that value's reduction.
    Where paths meet, the largest of the inputs of the node's own size counts (not an SE gate's)."""
    level: dict[int, float] = {}
    for node in graph.nodes():
        if node.op == "upsample" and node.matches_input:  # to the size, hence the reduction, of that value
            level[node.id] = level[node.inputs[1]]
            continue
        level[node.id] = _entering(node, graph, level) * _factor(node, graph)
    return level


def _entering(node, graph: Graph, level: dict[int, float]) -> float:
    """The reduction of what enters `node`: of its inputs of its own height if it has such, else of all."""
    height = node.type.height if node.type is not None else None
    same = [level[i] for i in node.inputs if graph[i].type is not None and graph[i].type.height == height]
    return max(same or [level[i] for i in node.inputs] or [1.0])


def _factor(node, graph: Graph) -> float:
    if node.op in STRIDED:
        return float(node.stride[0])
    t, inputs = node.type, [graph[i].type for i in node.inputs]
    if not inputs or t is None or inputs[0] is None or t.is_flat or inputs[0].is_flat or t.height == inputs[0].height:
        return 1.0
    return 2.0 ** round(math.log2(inputs[0].height / t.height))


def _reduction(level: float) -> int | float:
    return int(level) if level >= 1 else level


def _declared(graph: Graph, node, name: str, level: dict[int, float]) -> Feature:
    if node.type is None or node.type.is_flat:
        raise FeatureError(f"{graph.name}'s output `{name}` is a flat vector ({node.type}), not a feature map; "
                           "list only images in `output from ...` to take them as features")
    return Feature(node.id, node.type.channels, _reduction(level[node.id]), name)


def trunk(graph: Graph) -> list:
    """The nodes every path from the input to the output passes through, in order. In the
    construction order (a topological order) of the nodes that lead to the output, a node is on
    every path exactly when no edge jumps over it."""
    output = graph.output.id
    live = nx.ancestors(graph.dag, output) | {output}
    order = [node for node in graph.nodes() if node.id in live]
    position = {node.id: i for i, node in enumerate(order)}
    found, reach = [], 0
    for i, node in enumerate(order):
        if reach <= i:
            found.append(node)
        reach = max([reach] + [position[u] for u in graph.dag.successors(node.id) if u in position])
    return found


def _trunk_points(graph: Graph, level: dict[int, float]) -> list:
    """The last trunk value of each reduction level before the head, passing over values inside a
    construct that begins at their level and ends at a later one where the level has others, and
    over the input merely padded (Keras's `0_pad` before the first conv)."""
    nodes = trunk(graph)
    head = next((i for i, n in enumerate(nodes) if n.op in HEAD_OPS or (n.type is not None and n.type.is_flat)), None)
    if head is None:
        raise FeatureError(f"{graph.name} is not a classifier: no global pool or flatten is on every path to its "
                           "output, so archdsl cannot tell its feature maps; list the maps it should return in "
                           "the spec, `output from NAME, NAME, ...`, and build that")
    computed = next((i for i, n in enumerate(nodes[:head]) if not (n.VIEW or n.op == "zeropad")), head)
    body = [n for n in nodes[computed:head] if n.type is not None and not n.type.is_flat]
    if not body:
        raise FeatureError(f"{graph.name} has no feature map: its head (`{nodes[head].path}`) comes before any "
                           "image on every path from the input")
    spans = _frame_spans(graph, level)
    by_level: dict[float, list] = {}
    for node in body:
        by_level.setdefault(level[node.id], []).append(node)
    points = []
    for at, members in by_level.items():
        inside = [n for n in members if not any(spans[f][0] == at < spans[f][1] for f in n.origin)]
        points.append((inside or members)[-1])
    return points


def _frame_spans(graph: Graph, level: dict[int, float]) -> dict[Frame, tuple[float, float]]:
    """Each frame's (starting, ending) reduction: of the value entering its first node, and of its last node."""
    first: dict[Frame, float] = {}
    last: dict[Frame, float] = {}
    for node in graph.nodes():
        entering = _entering(node, graph, level) if node.inputs else 1.0
        for frame in node.origin:
            first.setdefault(frame, entering)
            last[frame] = level[node.id]
    return {frame: (first[frame], last[frame]) for frame in first}


def module_name(node, ends: dict[Frame, int]) -> str:
    """The outermost row, block or scope (with a path) whose last node (`ends`: see _frame_ends) is
    `node`, else `node`'s own path."""
    return next((f.path for f in node.origin if f.path and ends[f] == node.id), node.path)


def _frame_ends(graph: Graph) -> dict[Frame, int]:
    """Each frame's last node."""
    ends: dict[Frame, int] = {}
    for node in graph.nodes():
        for frame in node.origin:
            ends[frame] = node.id
    return ends


def _unique(names: list[str]) -> tuple[str, ...]:
    """`names`, a later repeat of a name suffixed with its position (output names must differ)."""
    seen: set[str] = set()
    out = []
    for i, name in enumerate(names):
        out.append(name if name not in seen else f"{name}_{i}")
        seen.add(out[-1])
    return tuple(out)
