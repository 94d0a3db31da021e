"""torchvision's classic CNNs (AlexNet, VGG, SqueezeNet, GoogLeNet, Inception v3, MnasNet, ShuffleNetV2),
held from the IR alone to what torchvision builds: module positions, dropout rates, norm settings.
Their logits are held to the cards by tests/test_cards.py; their MACs to the published figures by
tests/test_published.py."""

import pytest

import archdsl
from archdsl.backends.summary.table import totals

INLINE = """\
network inline_net
input 3x16x16
param norm = true

block conv_norm out bn=false
  conv out 3x3 pad=1
  if bn
    bn
  relu

scope features
  conv_norm 8 bn=norm repeat=2 names=inline
  maxpool 2x2 /2
  conv_norm 16 repeat=1 names=inline
"""


def paths(graph, op):
    return [n.path for n in graph.nodes() if n.op == op]


def test_inline_units_number_their_layers_in_the_enclosing_scope():
    graph = archdsl.load(INLINE)
    assert paths(graph, "conv") == ["features.0", "features.3", "features.7"]
    assert paths(graph, "bn") == ["features.1", "features.4"]
    assert paths(graph, "maxpool") == ["features.6"]
    assert paths(archdsl.load(INLINE, norm=False), "conv") == ["features.0", "features.2", "features.5"]


def test_an_inline_row_takes_no_name():
    with pytest.raises(archdsl.ArchError, match="names=inline has no name"):
        archdsl.load(INLINE.replace("  conv_norm 16 repeat=1", "  last conv_norm 16 repeat=1"))


# torchvision's cfgs: the conv positions of features
VGG_CONVS = {"vgg11": [0, 3, 6, 8, 11, 13, 16, 18],
             "vgg16": [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28],
             "vgg16_bn": [0, 3, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40],
             "vgg19_bn": [0, 3, 7, 10, 14, 17, 20, 23, 27, 30, 33, 36, 40, 43, 46, 49]}


@pytest.mark.parametrize("name", sorted(VGG_CONVS))
def test_vgg_numbers_features_as_one_flat_sequential(name):
    graph = archdsl.load(name)
    assert paths(graph, "conv") == [f"features.{i}" for i in VGG_CONVS[name]]
    assert all(n.bias for n in graph.nodes() if n.op == "conv")
    assert len(paths(graph, "bn")) == (len(VGG_CONVS[name]) if name.endswith("_bn") else 0)


@pytest.mark.parametrize("name, rates", [("alexnet", [0.5, 0.5]), ("vgg11", [0.5, 0.5]), ("vgg19_bn", [0.5, 0.5]),
                                         ("squeezenet1_0", [0.5]), ("squeezenet1_1", [0.5]),
                                         ("googlenet", [0.2])])
def test_dropout_rates_are_torchvision_s(name, rates):
    assert [n.p for n in archdsl.load(name).nodes() if n.op == "dropout"] == rates


@pytest.mark.parametrize("name, size, pooled", [("alexnet", 64, 1), ("alexnet", 97, 2), ("alexnet", 256, 7),
                                                ("vgg11", 64, 2), ("vgg16_bn", 320, 10)])
def test_adaptive_pooling_keeps_the_classifier_at_any_input(name, size, pooled):
    graph = archdsl.load(name, input_size=size)
    pool = next(n for n in graph.nodes() if n.op == "adaptive_avgpool")
    before = next(n for n in graph.nodes() if n.id == pool.inputs[0])
    assert (before.type.height, before.type.width) == (pooled, pooled)
    assert graph.output_type.channels == 1000
    assert totals(graph).params == totals(archdsl.load(name)).params


def test_squeezenet_versions_differ_where_torchvision_s_do():
    v10, v11 = archdsl.load("squeezenet1_0"), archdsl.load("squeezenet1_1")
    assert paths(v10, "maxpool") == ["features.2", "features.6", "features.11"]
    assert paths(v11, "maxpool") == ["features.2", "features.5", "features.8"]
    first = [next(n for n in g.nodes() if n.op == "conv") for g in (v10, v11)]
    assert [(c.out_channels, c.kernel) for c in first] == [(96, (7, 7)), (64, (3, 3))]
    assert all(n.ceil_mode for g in (v10, v11) for n in g.nodes() if n.op == "maxpool")


def test_googlenet_basic_convs_use_eps_0_001_and_pool_in_ceil_mode():
    graph = archdsl.load("googlenet")
    assert {n.eps for n in graph.nodes() if n.op == "bn"} == {0.001}
    assert not any(n.bias for n in graph.nodes() if n.op == "conv")
    assert "inception3a.branch3.1.conv" in paths(graph, "conv")
    assert all(n.ceil_mode for n in graph.nodes() if n.op == "maxpool")


def test_inception_v3_factorizes_its_7x7s_and_pools_with_padding_counted():
    graph = archdsl.load("inception_v3")
    convs = {n.path: n for n in graph.nodes() if n.op == "conv"}
    assert (convs["Mixed_6b.branch7x7_2.conv"].kernel, convs["Mixed_6b.branch7x7_2.conv"].padding) == ((1, 7), (0, 3))
    assert (convs["Mixed_7b.branch3x3_2b.conv"].kernel, convs["Mixed_7b.branch3x3_2b.conv"].padding) == ((3, 1), (1, 0))
    assert {n.eps for n in graph.nodes() if n.op == "bn"} == {0.001}
    assert [n.p for n in graph.nodes() if n.op == "dropout"] == [0.5]
    assert not any(p.startswith("AuxLogits") for p in convs)


# torchvision's _round_to_multiple_of(depth * alpha, 8) of [32, 16, 24, 40, 80, 96, 192, 320]
MNAS_DEPTHS = {"mnasnet0_5": [16, 8, 16, 24, 40, 48, 96, 160], "mnasnet0_75": [24, 16, 24, 32, 64, 72, 144, 240],
               "mnasnet1_0": [32, 16, 24, 40, 80, 96, 192, 320], "mnasnet1_3": [40, 24, 32, 56, 104, 128, 248, 416]}


@pytest.mark.parametrize("name", sorted(MNAS_DEPTHS))
def test_mnasnet_depths_momentum_and_dropout(name):
    graph = archdsl.load(name)
    convs = {n.path: n.out_channels for n in graph.nodes() if n.op == "conv"}
    stacks = [convs[f"layers.{i}.0.layers.6"] for i in range(8, 14)]
    assert [convs["layers.0"], convs["layers.6"], *stacks] == MNAS_DEPTHS[name]
    assert {n.momentum for n in graph.nodes() if n.op == "bn"} == {0.0003}
    assert [n.p for n in graph.nodes() if n.op == "dropout"] == [0.2]
    adds = [n.path for n in graph.nodes() if n.op == "add"]
    assert len(adds) == 16 - 6  # every block but a stack's first


SHUFFLE_WIDTHS = {"shufflenet_v2_x0_5": [24, 48, 96, 192, 1024], "shufflenet_v2_x1_0": [24, 116, 232, 464, 1024],
                  "shufflenet_v2_x1_5": [24, 176, 352, 704, 1024], "shufflenet_v2_x2_0": [24, 244, 488, 976, 2048]}


@pytest.mark.parametrize("name", sorted(SHUFFLE_WIDTHS))
def test_shufflenet_units_split_join_and_shuffle(name):
    graph = archdsl.load(name)
    convs = {n.path: n for n in graph.nodes() if n.op == "conv"}
    widths = [convs["conv1.0"].out_channels] + [convs[f"stage{s}.0.branch2.5"].out_channels * 2 for s in (2, 3, 4)]
    assert widths + [convs["conv5.0"].out_channels] == SHUFFLE_WIDTHS[name]
    assert not any(p.startswith("stage2.1.branch1") for p in convs)  # stride-1 units keep half as it is
    assert convs["stage3.0.branch1.0"].groups == SHUFFLE_WIDTHS[name][1]
    assert [n.groups for n in graph.nodes() if n.op == "shuffle"] == [2] * 16
    assert len([n for n in graph.nodes() if n.op == "concat"]) == 16


@pytest.mark.parametrize("name, base, layer3, groups", [("wide_resnet101_2", "wide_resnet50_2", 23, 1),
                                                         ("resnext101_64x4d", "resnext101_32x8d", 23, 64)])
def test_the_101_variants_are_their_family_spec_with_one_parameter(name, base, layer3, groups):
    graph = archdsl.load(name)
    assert graph.source.name == archdsl.load(base).source.name
    blocks = {n.path.split(".")[1] for n in graph.nodes() if n.path.startswith("layer3.")}
    assert len(blocks) == layer3
    assert {n.groups for n in graph.nodes() if n.op == "conv" and n.kernel == (3, 3) and n.path != "conv1"} == {groups}
