"""torchvision's ConvNeXts, one spec (specs/convnext.arch) for tiny/small/base/large: their published
sizes and MACs, the per-block stochastic-depth rates of torchvision's builders, the layer scale's
own key, and `div`, the division with a fraction the rate schedule is written with."""

import pytest

import archdsl
from archdsl.ir.state import parameter_count, state_entries
from archdsl.backends.summary.table import totals
from test_checks import HEADER, only, where

# torchvision 0.28's weights metadata: num_params and GFLOPS (multiply-accumulates) at 224x224
PUBLISHED = {"convnext_tiny": (28_589_128, 4.456), "convnext_small": (50_223_688, 8.684),
             "convnext_base": (88_591_464, 15.355), "convnext_large": (197_767_336, 34.361)}
# each builder's stochastic_depth_prob and stage depths (torchvision's convnext.py)
SCHEDULE = {"convnext_tiny": (0.1, (3, 3, 9, 3)), "convnext_small": (0.4, (3, 3, 27, 3)),
            "convnext_base": (0.5, (3, 3, 27, 3)), "convnext_large": (0.5, (3, 3, 27, 3))}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameters_and_macs(name):
    params, gflops = PUBLISHED[name]
    graph = archdsl.load(name)
    assert parameter_count(graph) == params
    assert totals(graph).macs / 1e9 == pytest.approx(gflops, rel=0.01)


@pytest.mark.parametrize("name", sorted(SCHEDULE))
def test_stochastic_depth_rises_linearly_over_all_blocks(name):
    prob, depths = SCHEDULE[name]
    total = sum(depths)
    expected = {}
    for stage, depth in enumerate(depths):
        for unit in range(depth):
            block_id = sum(depths[:stage]) + unit
            expected[f"features.{2 * stage + 1}.{unit}.stochastic_depth"] = prob * block_id / (total - 1.0)
    nodes = archdsl.load(name).nodes()
    found = {n.path: n.p for n in nodes if type(n).__name__ == "StochasticDepth"}
    assert found == expected  # exactly: the same arithmetic in the same order as torchvision's
    assert all(n.mode == "row" for n in archdsl.load(name).nodes() if type(n).__name__ == "StochasticDepth")


@pytest.mark.parametrize("name", ["convnext_tiny", "convnext_large"])
def test_no_dropout(name):
    assert not any(type(n).__name__ == "Dropout" for n in archdsl.load(name).nodes())


def test_block_layout_follows_torchvision():
    keys = {e.key: tuple(e.shape) for e in state_entries(archdsl.load("convnext_base"))}
    assert keys["features.5.26.layer_scale"] == (512, 1, 1)
    assert keys["features.5.26.block.0.weight"] == (512, 1, 7, 7)
    assert keys["features.5.26.block.2.weight"] == (512,)  # the norm after the permute at block.1
    assert keys["features.5.26.block.3.weight"] == (2048, 512)
    assert keys["features.5.26.block.5.weight"] == (512, 2048)
    assert keys["features.6.1.weight"] == (1024, 512, 2, 2) and keys["features.6.0.weight"] == (512,)
    assert keys["classifier.0.weight"] == (1024,) and keys["classifier.2.weight"] == (1000, 1024)


def test_div_keeps_the_fraction():
    graph = archdsl.load(HEADER + "conv 8 3x3\nstochastic_depth div(3, 4)\nglobal_avgpool\nflatten\n"
                                  "linear num_classes\n")
    assert [n.p for n in graph.nodes() if type(n).__name__ == "StochasticDepth"] == [0.75]


def test_div_by_zero_is_a_diagnostic():
    d = only("param n = 1\nconv 8 3x3\nstochastic_depth div(1, n - 1)\nglobal_avgpool\nflatten\n"
             "linear num_classes\n")
    assert where(d) == ("E0209", 6, 18) and "divides by 0" in d.message
