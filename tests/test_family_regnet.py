"""torchvision's RegNets, one spec (specs/regnet.arch) for all fifteen builders: their published
sizes and MACs, the widths torchvision derives (SE squeeze from the block's input, a group never
wider than its stage), and no dropout or stochastic depth anywhere, from the IR alone."""

import json

import pytest

import archdsl
from archdsl.cli import main
from archdsl.ir.state import parameter_count, state_entries
from archdsl.backends.summary.table import totals

# torchvision 0.28's weights metadata: (num_params, GFLOPS, crop size) of each builder's first
# weights entry; its GFLOPS count one multiply-accumulate once
PUBLISHED = {
    "regnet_y_400mf": (4_344_144, 0.402, 224), "regnet_y_800mf": (6_432_512, 0.834, 224),
    "regnet_y_1_6gf": (11_202_430, 1.612, 224), "regnet_y_3_2gf": (19_436_338, 3.176, 224),
    "regnet_y_8gf": (39_381_472, 8.473, 224), "regnet_y_16gf": (83_590_140, 15.912, 224),
    "regnet_y_32gf": (145_046_770, 32.28, 224), "regnet_y_128gf": (644_812_894, 374.57, 384),
    "regnet_x_400mf": (5_495_976, 0.414, 224), "regnet_x_800mf": (7_259_656, 0.8, 224),
    "regnet_x_1_6gf": (9_190_136, 1.603, 224), "regnet_x_3_2gf": (15_296_552, 3.177, 224),
    "regnet_x_8gf": (39_572_648, 7.995, 224), "regnet_x_16gf": (54_278_536, 15.941, 224),
    "regnet_x_32gf": (107_811_560, 31.736, 224),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameters_and_macs(name):
    params, gflops, crop = PUBLISHED[name]
    graph = archdsl.load(name, input_size=crop)
    assert parameter_count(graph) == params
    assert totals(graph).macs / 1e9 == pytest.approx(gflops, rel=0.01)


def test_summary_json_reports_the_published_macs(capsys):
    assert main(["summary", "regnet_y_128gf", "--json", "--input", "384"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["params"] == 644_812_894
    assert report["macs"] / 1e9 == pytest.approx(374.57, rel=0.01)


def _shapes(name):
    return {e.key: tuple(e.shape) for e in state_entries(archdsl.load(name))}


def test_se_squeeze_is_a_quarter_of_the_block_input():
    keys = _shapes("regnet_y_400mf")
    # block2-0 takes stage 1's 48 channels to 104; block2-1 takes 104 to 104
    assert keys["trunk_output.block2.block2-0.f.se.fc1.weight"] == (12, 104, 1, 1)
    assert keys["trunk_output.block2.block2-1.f.se.fc1.weight"] == (26, 104, 1, 1)
    assert keys["trunk_output.block1.block1-0.f.se.fc2.weight"] == (48, 8, 1, 1)
    assert not any(".se." in k for k in _shapes("regnet_x_400mf"))


def test_a_stage_narrower_than_the_group_width_is_one_group():
    keys = _shapes("regnet_x_8gf")  # group width 120, stage 1 only 80 wide
    assert keys["trunk_output.block1.block1-0.f.b.0.weight"] == (80, 80, 3, 3)
    assert keys["trunk_output.block2.block2-0.f.b.0.weight"] == (240, 120, 3, 3)


def test_only_a_stage_first_block_projects():
    keys = _shapes("regnet_y_800mf")
    assert keys["trunk_output.block3.block3-0.proj.0.weight"] == (320, 144, 1, 1)
    assert not any(k.startswith("trunk_output.block3.block3-1.proj") for k in keys)


@pytest.mark.parametrize("name", ["regnet_x_400mf", "regnet_y_400mf", "regnet_y_16gf"])
def test_no_dropout_and_no_stochastic_depth(name):
    ops = {type(n).__name__ for n in archdsl.load(name).nodes()}
    assert "Conv" in ops and not ops & {"Dropout", "StochasticDepth"}
