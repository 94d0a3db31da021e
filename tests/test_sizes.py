"""The input sizes a network runs at (archdsl.ir.sizes, `archdsl summary`): the ops' own rules run at
other sizes over the graph checked at the declared one, summed up as a rule per side, and held here
to what the built torch module actually does at every side in a range."""

import pytest
import torch

import archdsl
from archdsl.cli import main
from archdsl.ir.sizes import input_sizes, runs_at, side_rule

#: a small U-Net: two halvings, then upsampling back and concatenating the skips, so a side must be a
#: multiple of 4 (the concatenations need the halvings to be exact)
UNET = """network tiny_unet
input 1x16x16
e1 conv 4 3x3 pad=1
p1 maxpool 2x2
e2 conv 8 3x3 pad=1
p2 maxpool 2x2
b  conv 8 3x3 pad=1
u2 upsample scale=2
c2 concat from u2, e2
d2 conv 8 3x3 pad=1
u1 upsample scale=2
c1 concat from u1, e1
out conv 2 1x1
"""
#: valid 3x3 convs around a strided one: a side must be at least 9 (9, 7, 3, 1); then every side works
VALID = "network v\ninput 3x32x32\nconv 4 3x3\nconv 4 3x3 /2\nconv 4 3x3\nu upsample to=input\n"


def torch_runs(model, height, width) -> bool:
    try:
        with torch.no_grad():
            model(torch.randn(1, model_channels(model), height, width))
        return True
    except RuntimeError:
        return False


def model_channels(model) -> int:
    return next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d)).in_channels


@pytest.mark.parametrize("spec, expected", [(UNET, "height and width multiples of 4 from 4"),
                                            (VALID, "height and width any from 9")])
def test_the_rule_is_what_torch_does_at_every_side(spec, expected):
    graph = archdsl.load(spec)
    assert input_sizes(graph) == expected
    model = archdsl.build(graph).eval()
    rule = side_rule(graph, "height")
    for side in range(1, 41):
        says = side >= rule.start and (side - rule.start) % rule.step == 0
        assert runs_at(graph, side, side) == says == torch_runs(model, side, side), side


def test_a_flatten_into_a_linear_layer_takes_the_declared_size_only():
    graph = archdsl.load("network c\ninput 3x8x8\nconv 4 3x3 pad=1\nflatten\nlinear 10\n")
    assert input_sizes(graph) == "height and width 8 only"


def test_height_and_width_apart_where_the_kernels_differ():
    graph = archdsl.load("network k\ninput 3x32x32\nconv 4 1x7\nconv 4 1x7\nglobal_avgpool\n")
    assert input_sizes(graph) == "height any from 1, width any from 13"


def test_the_bundled_networks_as_measured():
    assert input_sizes(archdsl.load("alexnet")) == "height and width any from 63"
    assert input_sizes(archdsl.load("fcn_resnet50")) == "height and width any from 1"
    graph = archdsl.load("alexnet")
    assert runs_at(graph, 63, 63) and not runs_at(graph, 62, 62)


def test_summary_says_it(capsys):
    assert main(["summary", "alexnet"]) == 0
    assert "input sizes: height and width any from 63 (the built module runs at these)" in capsys.readouterr().out
    assert main(["summary", "alexnet", "--json"]) == 0
    assert '"input_sizes": "height and width any from 63"' in capsys.readouterr().out
