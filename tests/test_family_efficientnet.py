"""EfficientNet B0-B7 from one family spec: each variant's train-mode rates and norms, read from
the IR alone, equal what torchvision documents, and its MACs match torchvision's published GFLOPS.

torchvision's EfficientNet (models/efficientnet.py) drops the branch of the i-th block of the
whole network (i from 0, over every stage) with probability 0.2 * i / total_blocks, where each
stage has ceil(n * depth_mult) blocks; only the blocks that keep their shape (every block of a
stage but its first, here) have a residual, so only they carry it.
"""

import math

import pytest

import archdsl
from archdsl.ir import nodes as N
from cards import load_card
from compiler.summary.table import summarize
from test_checks import HEADER, only

#: torchvision's base stage depths (MBConv settings n), width/depth multipliers, classifier dropout,
#: BatchNorm eps and momentum, and the weights' crop size
BASE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)
VARIANTS = {
    "efficientnet_b0": (1.0, 1.0, 0.2, 1e-5, 0.1, 224),
    "efficientnet_b1": (1.0, 1.1, 0.2, 1e-5, 0.1, 240),
    "efficientnet_b2": (1.1, 1.2, 0.3, 1e-5, 0.1, 288),
    "efficientnet_b3": (1.2, 1.4, 0.3, 1e-5, 0.1, 300),
    "efficientnet_b4": (1.4, 1.8, 0.4, 1e-5, 0.1, 380),
    "efficientnet_b5": (1.6, 2.2, 0.4, 1e-3, 0.01, 456),
    "efficientnet_b6": (1.8, 2.6, 0.5, 1e-3, 0.01, 528),
    "efficientnet_b7": (2.0, 3.1, 0.5, 1e-3, 0.01, 600),
}


def _nodes(graph, cls):
    return [n for n in graph.nodes() if isinstance(n, cls)]


@pytest.mark.parametrize("name", ["efficientnet_b0", "efficientnet_b3", "efficientnet_b5", "efficientnet_b7"])
def test_stochastic_depth_follows_torchvision_s_linear_schedule(name):
    depth_mult = VARIANTS[name][1]
    depths = [math.ceil(n * depth_mult) for n in BASE_DEPTHS]
    total = sum(depths)
    expected, i = {}, 0
    for stage, depth in enumerate(depths, start=1):
        for block in range(depth):
            if block > 0:
                expected[f"features.{stage}.{block}.stochastic_depth"] = 0.2 * i / total
            i += 1
    found = {n.path: n.p for n in _nodes(archdsl.load(name), N.StochasticDepth)}
    assert found.keys() == expected.keys()
    for path, p in expected.items():
        assert found[path] == pytest.approx(p, rel=1e-12, abs=0), path
    assert {n.mode for n in _nodes(archdsl.load(name), N.StochasticDepth)} == {"row"}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_dropout_and_norms_are_the_variant_s(name):
    _, _, dropout, eps, momentum, _ = VARIANTS[name]
    graph = archdsl.load(name)
    assert [(n.path, n.p) for n in _nodes(graph, N.Dropout)] == [("classifier.0", dropout)]
    norms = _nodes(graph, N.BatchNorm)
    assert norms and {(n.eps, n.momentum) for n in norms} == {(eps, momentum)}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_macs_match_torchvision_s_published_gflops_at_the_crop_size(name):
    crop = VARIANTS[name][5]
    summary = summarize(archdsl.load(name))
    assert summary.input == f"3x{crop}x{crop}"
    published = load_card(name)["published"]
    assert summary.totals.params == published["num_params"]
    assert summary.totals.macs / 1e9 == pytest.approx(published["gflops"], rel=0.01)


def test_div_is_division_with_its_fraction():
    graph = archdsl.load(HEADER + "conv 8 3x3\nstochastic_depth div(0.2 * 3, 16)\n")
    (sd,) = _nodes(graph, N.StochasticDepth)
    assert sd.p == 0.2 * 3 / 16


def test_div_by_zero_is_reported_at_the_call():
    d = only("conv 8 3x3\nstochastic_depth div(1, 0)\n")
    assert d.code == "E0209" and "divides by 0" in d.message and (d.span.line, d.span.col) == (5, 18)
