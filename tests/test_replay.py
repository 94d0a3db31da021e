"""A row's later units made again from its second (semantics/replay.py) are exactly the units that
walking their bodies makes: every node (path, inputs, attributes, type, span, the frames that made
it), the verifier's record of inferred types, and the state paths claimed, for every bundled spec."""

from __future__ import annotations

import pytest

import archdsl
from archdsl.backends.summary.table import size
from archdsl.ir.state import parameter_count
from archdsl.semantics.scope import MADE_BY
from conftest import bundled_specs


def build(path, walk_every_unit: bool):
    token = MADE_BY.set([] if walk_every_unit else None)  # the language server's mode walks every unit
    try:
        return archdsl.load(path)
    finally:
        MADE_BY.reset(token)


@pytest.mark.parametrize("path", bundled_specs(), ids=lambda p: p.stem)
def test_replayed_units_are_the_walked_units(path):
    replayed, walked = build(path, False), build(path, True)
    assert len(replayed) == len(walked)
    for a, b in zip(replayed.nodes(), walked.nodes()):
        assert a == b and a.origin == b.origin and a.span == b.span, a.path
    assert replayed.inferred == walked.inferred
    # the parameters the budget counted as it built (what the verdict reports) are the IR's
    assert replayed.parameter_total == walked.parameter_total == parameter_count(walked)


def test_the_counted_parameters_are_forgotten_when_the_graph_changes():
    graph = archdsl.load("network t\ninput 3x8x8\nconv 4 3x3\n")
    assert graph.parameter_total == parameter_count(graph) == 4 * 3 * 3 * 3
    graph.add(graph[1].model_copy(update={"id": len(graph), "inputs": (1,), "path": "again"}))
    assert graph.parameter_total is None and size(graph)[0] == parameter_count(graph) == 108 + 4 * 4 * 3 * 3


def test_a_body_that_reads_its_unit_is_walked_for_every_unit():
    text = ("network t\ninput 3x8x8\nblock b out\n  conv out 3x3 pad=1\n  if unit == 2\n    relu\n"
            "x b 3 repeat=4\n")
    ops = [n.op for n in archdsl.load(text).nodes() if n.path.startswith("x.")]
    assert ops == ["conv", "conv", "conv", "relu", "conv"]


def test_replayed_units_count_among_their_sections_units():
    text = ("network t\ninput 3x8x8\nblock plain out\n  conv out 3x3 pad=1\n"
            "block sd out\n  conv out 3x3 pad=1\n  stochastic_depth div(stage_unit, stage_units)\n"
            "stages plain\n  a 3 repeat=4\n  b sd 3 repeat=2\n")
    graph = archdsl.load(text)
    assert [n.p for n in graph.nodes() if n.op == "stochastic_depth"] == [4 / 6, 5 / 6]
    assert [n.path for n in graph.nodes() if n.op == "conv"][:4] == ["a.0.0", "a.1.0", "a.2.0", "a.3.0"]
