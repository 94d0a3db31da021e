"""The resource budget, kept while the IR is built: parameters, activation memory, nodes.

Every node the :class:`~archdsl.semantics.emit.Emitter` creates is counted here.
The node cap stops elaboration at once (E0503), so no spec makes the checker
build millions of nodes. Parameters (E0501) and activation memory (E0502) are
reported with the network's exact totals when it is complete; and a repeated
stage row is projected after its second block, so a row of 100,000 blocks is
rejected with its figure after building two of them.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

from archdsl.diagnostics import Diagnostic, Span, error
from archdsl.ir.graph import Graph
from archdsl.ir.memory import output_bytes
from archdsl.ir.nodes import NodeBase
from archdsl.ir.state import node_parameter_count
from archdsl.limits import Limits, show_bytes


class Usage(NamedTuple):
    """What a network, or part of one, needs: trainable parameters, fp32 activation bytes, IR nodes."""

    params: int = 0
    activation_bytes: int = 0
    nodes: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(a + b for a, b in zip(self, other)))

    def __sub__(self, other: Usage) -> Usage:
        return Usage(*(a - b for a, b in zip(self, other)))

    def times(self, n: int) -> Usage:
        return Usage(*(a * n for a in self))


class OverBudget(Exception):
    """Elaboration stops: the network cannot fit the limits. Carries the diagnostics to report."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__(diagnostics[0].message)
        self.diagnostics = diagnostics


class Budget:
    """Running totals of the IR being built, checked against `limits`."""

    def __init__(self, limits: Limits):
        self.limits = limits
        #: the running totals (`used`), kept apart: every node adds to them
        self.params = self.activation_bytes = self.nodes = 0
        #: for each measure over its limit: the span and module path of the node that passed it
        self.passed_at: dict[str, tuple[Span | None, str]] = {}

    @property
    def used(self) -> Usage:
        return Usage(self.params, self.activation_bytes, self.nodes)

    def add(self, node: NodeBase, graph: Graph, params: int | None = None) -> None:
        """Count a node just added to `graph` (its trainable `params`, where the caller knows them);
        raises OverBudget past the node cap."""
        limits = self.limits
        if params is not None:
            self.params += params
        elif node.has_state:
            self.params += node_parameter_count(node, graph)
        self.activation_bytes += output_bytes(node)
        self.nodes += 1
        if self.params > limits.params or self.activation_bytes > limits.activation_bytes \
                or self.nodes > limits.nodes:
            for measure, value, limit in self._measures(self.used):  # every node is counted: only here is it slow
                if value > limit and measure not in self.passed_at:
                    self.passed_at[measure] = (node.span, node.path)
        if self.nodes > limits.nodes:
            raise OverBudget([over_budget("nodes", self.nodes, limits, node.span,
                                          f"checking stopped at `{node.path}`", at_least=True)])

    def add_all(self, usage: Usage) -> bool:
        """Count nodes whose totals are known at once (a replayed unit's), where they keep every
        measure within its limit; False, counting nothing, where they might pass one: the caller
        then counts them one by one (`add`), so the node that passes it is the one named."""
        limits = self.limits
        params, activation_bytes, nodes = self.params + usage.params, \
            self.activation_bytes + usage.activation_bytes, self.nodes + usage.nodes
        if params > limits.params or activation_bytes > limits.activation_bytes or nodes > limits.nodes:
            return False
        self.params, self.activation_bytes, self.nodes = params, activation_bytes, nodes
        return True

    def repeats(self, count: int, span: Span | None, name: str) -> Iterator[int]:
        """0 .. count-1 for a stage row's blocks. From the second block on, the blocks still to
        come are projected at the cost of the last one, and OverBudget is raised at once if the
        row cannot fit. Sound for blocks that repeat unchanged or grow (residual, dense)."""
        before = self.used
        for i in range(count):
            yield i
            last, before = self.used - before, self.used
            if 1 <= i < count - 1:
                self._project(last, count - 1 - i, count, span, name)

    def _project(self, block: Usage, remaining: int, count: int, span: Span | None, name: str) -> None:
        projected = self.used + block.times(remaining)
        over = [(measure, value) for measure, value, limit in self._measures(projected) if value > limit]
        if len(over) > 1:  # parameters and memory say more than the node count
            over = [(measure, value) for measure, value in over if measure != "nodes"]
        if over:
            per = dict(zip(("params", "activation_bytes", "nodes"), block))
            raise OverBudget([over_budget(measure, value, self.limits, span,
                                          f"`{name}`: {count:,} blocks of at least {_amount(measure, per[measure])}",
                                          at_least=True) for measure, value in over])

    def final(self) -> list[Diagnostic]:
        """E0501/E0502 for the finished network, with its totals, where it passed each limit."""
        found = []
        for measure, value, _ in self._measures(self.used):
            if measure in self.passed_at:
                span, path = self.passed_at[measure]
                found.append(over_budget(measure, value, self.limits, span, f"passes the limit at `{path}`"))
        return found

    def _measures(self, usage: Usage):
        limits = self.limits
        return [("params", usage.params, limits.params),
                ("activation_bytes", usage.activation_bytes, limits.activation_bytes),
                ("nodes", usage.nodes, limits.nodes)]


def check_graph(graph: Graph, limits: Limits) -> list[Diagnostic]:
    """The budget diagnostics of an IR graph that already exists (e.g. one loaded with other limits)."""
    budget = Budget(limits)
    try:
        for node in graph.nodes():
            budget.add(node, graph)
    except OverBudget as stop:
        return stop.diagnostics
    return budget.final()


_CODES = {"params": "E0501", "activation_bytes": "E0502", "nodes": "E0503"}
_HELP = {
    "params": "raise the limit with --max-params (e.g. --max-params 5G; in Python limits=Limits(params=...)), "
              "or make the network smaller",
    "activation_bytes": "raise the limit with --max-activations (e.g. --max-activations 32GiB; in Python "
                        "limits=Limits(activation_bytes=...)), or check a smaller input with --input",
    "nodes": "raise the limit with --max-nodes (in Python limits=Limits(nodes=...)), or repeat blocks fewer times",
}


def over_budget(measure: str, value: int, limits: Limits, span: Span | None, label: str,
                at_least: bool = False) -> Diagnostic:
    """E0501 (parameters), E0502 (activation memory) or E0503 (IR nodes) over `limits`."""
    needs, limit = "at least " if at_least else "", getattr(limits, measure)
    if measure == "activation_bytes":
        message = (f"the network needs {needs}{show_bytes(value)} of activation memory for one fp32 image "
                   f"({value:,} bytes), over the limit of {show_bytes(limit)}")
    else:
        message = f"the network needs {needs}{value:,} {_UNITS[measure]}, over the limit of {limit:,}"
    return error(_CODES[measure], message, span, label, _HELP[measure])


_UNITS = {"params": "parameters", "nodes": "IR nodes"}


def _amount(measure: str, value: int) -> str:
    """A block's share of one measure, for a label: `285,212,672 parameters`, `9.84 GiB`, `9 IR nodes`."""
    return show_bytes(value) if measure == "activation_bytes" else f"{value:,} {_UNITS[measure]}"
