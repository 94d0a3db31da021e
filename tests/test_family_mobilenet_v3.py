"""MobileNetV3 large and small from one family spec: train-mode rates, norms, activations and gates
read from the IR alone equal torchvision's (models/mobilenetv3.py), and MACs match its published
GFLOPS. MobileNetV3 has no stochastic depth: its only dropout is the classifier's, p=0.2."""

import pytest

import archdsl
from archdsl.ir import nodes as N
from cards import load_card
from archdsl.backends.summary.table import summarize

#: per inverted residual (features.1, features.2, ...): (SE, activation), torchvision's table
TABLES = {
    "mobilenet_v3_large": [(False, "relu")] * 3 + [(True, "relu")] * 3 + [(False, "hardswish")] * 4
    + [(True, "hardswish")] * 5,
    "mobilenet_v3_small": [(True, "relu"), (False, "relu"), (False, "relu")] + [(True, "hardswish")] * 8,
}
NAMES = sorted(TABLES)


def _nodes(graph, cls):
    return [n for n in graph.nodes() if isinstance(n, cls)]


@pytest.mark.parametrize("name", NAMES)
def test_dropout_and_norms_are_torchvision_s(name):
    graph = archdsl.load(name)
    assert [(n.path, n.p) for n in _nodes(graph, N.Dropout)] == [("classifier.2", 0.2)]
    assert not _nodes(graph, N.StochasticDepth)
    assert {(n.eps, n.momentum) for n in _nodes(graph, N.BatchNorm)} == {(1e-3, 0.01)}


@pytest.mark.parametrize("name", NAMES)
def test_each_block_has_its_table_s_activation_and_hardsigmoid_gated_se(name):
    graph = archdsl.load(name)
    table = TABLES[name]
    for i, (se, act) in enumerate(table, start=1):
        inside = [n for n in graph.nodes() if n.path.startswith(f"features.{i}.block.")]
        acts = {n.op for n in inside if isinstance(n, N.ActivationNode) and ".fc" not in n.path
                and not n.path.endswith(".scale") and not n.path.endswith(".activation")}
        assert acts == {act}, i
        gates = [n.op for n in inside if n.path.endswith(".scale")]
        assert gates == (["hardsigmoid"] if se else []), i
    last = len(table) + 1
    assert [n.op for n in graph.nodes() if n.path == f"features.{last}.2"] == ["hardswish"]
    assert not [n for n in graph.nodes() if n.path.startswith(f"features.{last + 1}")]


@pytest.mark.parametrize("name", NAMES)
def test_macs_match_torchvision_s_published_gflops(name):
    summary = summarize(archdsl.load(name))
    published = load_card(name)["published"]
    assert summary.input == "3x224x224"
    assert summary.totals.params == published["num_params"]
    assert summary.totals.macs / 1e9 == pytest.approx(published["gflops"], rel=0.01)
