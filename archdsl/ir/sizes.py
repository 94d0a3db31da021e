"""Which input sizes a network runs at, beyond the one it was checked at.

A graph is typed at its declared input size, but its ops compute their output sizes from their
inputs' (an upsample `to=` another value included), so the same graph, and the module built from
it, runs at other sizes too, where every op's rule still holds (sizes stay positive, the values
an add or a concatenation joins still agree) and each layer with weights gets the channels or
features they were made for (not so a linear layer after a flatten). This module runs the ops'
own rules (`shapes.infer`) over the graph at other heights (the width as declared) and other
widths (the height as declared) and sums up what it finds.

Along one side, each op's output size is floor or ceil of an affine function of its input's, with
strides whose products along the paths divide R (their least common multiple); so a side h that
works makes h + R work (each path's sizes grow by a fixed amount, and sizes only grow), and
whether two paths agree depends on h modulo R alone. The sides that work are therefore, for each
remainder modulo R that works at all, every side from some least one on. The rule is read off at
the declared size and one period above it; where the two disagree (a flatten into a linear layer,
which takes one size only) only the declared size is claimed, and where the remainders that work
form no single pattern, nothing is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from archdsl.ir.features import STRIDED
from archdsl.ir.graph import Graph
from archdsl.ir.ops.base import SameType, TensorType
from archdsl.ir.shapes import infer


#: ops whose output has their input's type at every size once it has at the declared one (their rules
#: check channels only)
SIZE_BLIND = ("bn", "layernorm", "groupnorm", "layer_scale")
#: ops whose output size does not depend on their input's
FIXED_SIZE = ("global_avgpool", "adaptive_avgpool", "adaptive_maxpool", "flatten")


@dataclass(frozen=True)
class SideRule:
    """The sides that work: every `step`-th from `start` on (`step` 1: every side from `start`);
    `declared_only` where only the declared side is known to work."""

    start: int
    step: int = 1
    declared_only: bool = False

    def __str__(self) -> str:
        if self.declared_only:
            return f"{self.start} only"
        if self.step == 1:
            return f"any from {self.start}"
        if self.start % self.step == 0:
            return f"multiples of {self.step} from {self.start}"
        return f"{self.start} + multiples of {self.step}"


def runs_at(graph: Graph, height: int, width: int) -> bool:
    """Whether every op's rule holds for an input of `height` x `width` (the declared channels), and
    every layer with weights sees the channels (or features) it was built for."""
    if graph.size_fixed_by is not None and (height, width) != (graph.input_type.height, graph.input_type.width):
        return False  # its padding was worked out for the declared size, and the forward checks it
    types: dict[int, TensorType | None] = {}
    for node in graph.nodes():
        if node.op == "input":
            types[node.id] = TensorType(channels=graph.input_type.channels, height=height, width=width)
            continue
        if isinstance(node, SameType) or node.op in SIZE_BLIND:
            types[node.id] = types[node.inputs[0]]  # what its rule gives at any size
            continue
        out, problems = infer(node, [types[i] for i in node.inputs])
        if problems or out is None:
            return False
        if node.has_state and node.inputs and types[node.inputs[0]].channels != graph[node.inputs[0]].type.channels:
            return False  # its weights were sized for the declared input (a linear layer after flatten)
        types[node.id] = out
    return True


def side_rule(graph: Graph, axis: str) -> SideRule | None:
    """The rule for the input's `axis` ("height" or "width", the other as declared); None where the
    graph's sides do not follow the periodic rule above."""
    declared = getattr(graph.input_type, axis)
    if graph.input_type.is_flat:
        return None
    works = (lambda side: runs_at(graph, side, graph.input_type.width)) if axis == "height" else \
        (lambda side: runs_at(graph, graph.input_type.height, side))
    period = _period(graph)
    base = -(-declared // period) * period
    remainders = [r for r in range(period) if works(base + r)]
    if not all(works(base + period + r) for r in remainders[:1] + remainders[-1:]):
        return SideRule(declared, declared_only=True) if works(declared) else None  # a size-bound layer
    if not remainders:
        return SideRule(declared, declared_only=True)
    step = period if len(remainders) == 1 else remainders[1] - remainders[0]
    if remainders != list(range(remainders[0], period, step)) or period % step:
        return None  # not one arithmetic pattern: say nothing rather than something wrong
    last_failing = max((_least(works, base + r, period) - period for r in remainders), default=0)
    start = last_failing + step if last_failing >= 1 else remainders[0] or step
    return SideRule(start, step)


def input_sizes(graph: Graph) -> str | None:
    """`height and width any from 17`, `height multiples of 32 from 32, width 224 only`: the input
    sizes the network runs at, or None where they cannot be worked out simply."""
    rules = {"height": side_rule(graph, "height")}
    t = graph.input_type
    rules["width"] = rules["height"] if t.height == t.width and _square(graph) else side_rule(graph, "width")
    if None in rules.values():
        return None
    if str(rules["height"]) == str(rules["width"]):
        return f"height and width {rules['height']}"
    return f"height {rules['height']}, width {rules['width']}"


def _square(graph: Graph) -> bool:
    """Whether every op treats height and width alike (no 1x7 kernel, no uneven padding)."""
    for node in graph.nodes():
        for value in node.attrs().values():
            if isinstance(value, tuple) and len(value) == 2 and value[0] != value[1]:
                return False
            if isinstance(value, tuple) and len(value) == 4 and value[:2] != value[2:]:
                return False
    return True


def _period(graph: Graph) -> int:
    """The least common multiple of the stride products along the paths from the input: every
    side's rounding repeats with it. An adaptive pool's output (and what only it feeds) has a fixed
    size and counts for nothing."""
    product: dict[int, int | None] = {}
    for node in graph.nodes():
        known = [product[i] for i in node.inputs if product[i] is not None]
        if node.op == "input":
            product[node.id] = 1
        elif node.op in FIXED_SIZE or not known:
            product[node.id] = None
        else:
            product[node.id] = math.lcm(*known) * (node.stride[0] * node.stride[1] // math.gcd(*node.stride)
                                                  if node.op in STRIDED else 1)
    return math.lcm(*(p for p in product.values() if p is not None))


def _least(works, known: int, period: int) -> int:
    """The least side of `known`'s class modulo `period` that works, given that `known` works and
    that a side that works makes the next one of the class work (binary search)."""
    low, high = 0, (known - 1) // period  # number of periods below `known` still positive
    first = known - high * period
    while low < high:
        mid = (low + high) // 2
        side = first + mid * period
        if works(side):
            high = mid
        else:
            low = mid + 1
    return first + low * period
