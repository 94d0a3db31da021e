"""EfficientNet B0-B7 and V2 S/M/L, each from one family spec: each variant's train-mode rates and norms, read from
the IR alone, equal what torchvision documents, and its MACs match torchvision's published GFLOPS.

torchvision's EfficientNet (models/efficientnet.py) drops the branch of the i-th block of the
whole network (i from 0, over every stage) with probability 0.2 * i / total_blocks, where each
stage has ceil(n * depth_mult) blocks (V2: its table's n); only the blocks that keep their shape
(stride 1, as many channels out as in) have a residual, so only they carry it.
"""

import math

import pytest

import archdsl
from archdsl.ir import nodes as N
from cards import load_card
from archdsl.backends.summary.table import summarize
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


#: V2's stem width, then per stage (out channels, stride, units), from torchvision's _efficientnet_conf;
#: classifier dropout and the weights' crop size
V2 = {
    "efficientnet_v2_s": (24, [(24, 1, 2), (48, 2, 4), (64, 2, 4), (128, 2, 6), (160, 1, 9), (256, 2, 15)], 0.2, 384),
    "efficientnet_v2_m": (24, [(24, 1, 3), (48, 2, 5), (80, 2, 5), (160, 2, 7), (176, 1, 14), (304, 2, 18),
                               (512, 1, 5)], 0.3, 480),
    "efficientnet_v2_l": (32, [(32, 1, 4), (64, 2, 7), (96, 2, 7), (192, 2, 10), (224, 1, 19), (384, 2, 25),
                               (640, 1, 7)], 0.4, 480),
}
V1_STAGES = ((16, 1), (24, 2), (40, 2), (80, 2), (112, 1), (192, 2), (320, 1))


def _stages(name):
    """(stem width, [(out, stride, units)]) of a variant, as torchvision computes them."""
    if name in V2:
        return V2[name][:2]
    width, depth = VARIANTS[name][:2]
    return _to_8(32 * width), [(_to_8(c * width), s, math.ceil(n * depth)) for (c, s), n in zip(V1_STAGES, BASE_DEPTHS)]


def _to_8(v: float) -> int:
    """torchvision's _make_divisible(v, 8): the nearest multiple of 8, at least 8, not 10% below v."""
    rounded = max(8, int(v + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * v else rounded


def _expected_rates(name):
    channels, stages = _stages(name)
    total = sum(units for _, _, units in stages)
    expected, i = {}, 0
    for stage, (out, stride, units) in enumerate(stages, start=1):
        for block in range(units):
            if (stride == 1 or block > 0) and channels == out:
                expected[f"features.{stage}.{block}.stochastic_depth"] = 0.2 * i / total
            channels, i = out, i + 1
    return expected


def _nodes(graph, cls):
    return [n for n in graph.nodes() if isinstance(n, cls)]


@pytest.mark.parametrize("name", ["efficientnet_b0", "efficientnet_b3", "efficientnet_b5", "efficientnet_b7",
                                  "efficientnet_v2_s", "efficientnet_v2_l"])
def test_stochastic_depth_follows_torchvision_s_linear_schedule(name):
    expected = _expected_rates(name)
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


@pytest.mark.parametrize("name", sorted(V2))
def test_v2_dropout_norms_and_macs_are_the_variant_s(name):
    _, stages, dropout, crop = V2[name]
    graph = archdsl.load(name)
    assert [(n.path, n.p) for n in _nodes(graph, N.Dropout)] == [("classifier.0", dropout)]
    assert {(n.eps, n.momentum) for n in _nodes(graph, N.BatchNorm)} == {(1e-3, 0.1)}
    assert {n.path.split(".")[1] for n in _nodes(graph, N.Conv) if n.path.startswith("features.")} == \
        {str(i) for i in range(len(stages) + 2)}
    summary = summarize(graph)
    published = load_card(name)["published"]
    assert summary.input == f"3x{crop}x{crop}" and summary.totals.params == published["num_params"]
    assert summary.totals.macs / 1e9 == pytest.approx(published["gflops"], rel=0.01)


def test_div_is_division_with_its_fraction():
    graph = archdsl.load(HEADER + "conv 8 3x3\nstochastic_depth div(0.2 * 3, 16)\n")
    (sd,) = _nodes(graph, N.StochasticDepth)
    assert sd.p == 0.2 * 3 / 16


def test_div_by_zero_is_reported_at_the_call():
    d = only("conv 8 3x3\nstochastic_depth div(1, 0)\n")
    assert d.code == "E0209" and "divides by 0" in d.message and (d.span.line, d.span.col) == (5, 18)
