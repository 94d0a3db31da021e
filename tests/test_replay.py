"""A row's later units made again from its second (semantics/replay.py) are exactly the units that
walking their bodies makes: every node (path, inputs, attributes, type, span, the frames that made
it), the verifier's record of inferred types, and the state paths claimed, for every bundled spec."""

from __future__ import annotations

import pytest

import archdsl
from archdsl.backends.summary.table import size
from archdsl.ir.state import parameter_count
from archdsl.semantics.replay import Template
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


def _walked_and_copied(text: str):
    return build_text(text, False), build_text(text, True)


def build_text(text: str, walk_every_unit: bool):
    token = MADE_BY.set([] if walk_every_unit else None)
    try:
        return archdsl.load(text)
    finally:
        MADE_BY.reset(token)


def test_an_instance_made_before_is_copied_with_its_own_paths_frames_and_names(monkeypatch):
    text = ("network t\ninput 3x8x8\nblock inner out\n  conv out 3x3 pad=1\n  mid bn\n  relu\n"
            "block outer out\n  scope s\n    a inner out\n  stochastic_depth div(unit, 4)\n"
            "rows outer 4 repeat=3\n"
            "x inner 4\ny inner 4\nadd from x.mid, y.mid\n")
    copies = []
    apply = Template.apply
    monkeypatch.setattr(Template, "apply", lambda self, x, path, names=None: copies.append(path) or
                        apply(self, x, path, names))
    copied, walked = _walked_and_copied(text)
    # the units of `rows` read `unit`, so each is walked; the inner block's instance in the third
    # has the second's values and input type, and is copied
    assert copies == ["rows.2.s.a"]
    assert [(n.path, n.inputs) for n in copied.nodes()] == [(n.path, n.inputs) for n in walked.nodes()]
    for a, b in zip(copied.nodes(), walked.nodes()):
        assert a == b and a.origin == b.origin and a.span == b.span, a.path
    assert copied.inferred == walked.inferred
    assert [n.path for n in copied.nodes() if n.op == "bn"] == [
        "rows.0.s.a.mid", "rows.1.s.a.mid", "rows.2.s.a.mid", "x.mid", "y.mid"]
    frames = {n.path: [f.path for f in n.origin] for n in copied.nodes()}
    assert frames["rows.2.s.a.mid"] == ["rows", "rows.2", "rows.2.s", "rows.2.s.a"]
    assert frames["y.mid"] == ["y"]


@pytest.mark.parametrize("again", ["3.0", "true"])
def test_an_instance_is_copied_only_for_values_of_the_same_type(again):
    # 3, 3.0 and true are equal to Python; a conv's kernel takes only the first. Both instances of
    # `b` are made by the one statement in `outer`'s body
    text = (f"network t\ninput 3x8x8\nblock b k\n  conv 4 k pad=1\n  relu\nblock outer k\n  b k\n"
            f"x outer 3\ny outer {again} from input\nadd from x, y\n")
    found = archdsl.check(text)
    assert [(d.code, d.span.line) for d in found] == [("E0209", 4)]


def test_instances_with_diagnostics_say_what_walking_each_says():
    text = ("network t\ninput 3x8x8\nblock b k\n  conv 4 3x3 pad=1 groups=3\n  conv 4 k pad=1\n"
            "x b 3\ny b 3 from input\nz b 3.0 from input\nadd from x, y, z\n")

    def found(walk_every_unit: bool):
        token = MADE_BY.set([] if walk_every_unit else None)
        try:
            return [(d.code, d.span.line, d.message, [n.span.line for n in d.notes]) for d in archdsl.check(text)]
        finally:
            MADE_BY.reset(token)

    assert found(False) == found(True)
    assert {code for code, *_ in found(False)} == {"E0304", "E0209"}
