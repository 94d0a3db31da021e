"""Feature maps, timm's `features_only` convention: the points found on the IR (channels, reductions,
module names as timm's for the bundled ResNets, DenseNet, MobileNet, inception), out_indices,
the pruned module, and every bundled classifier's built maps against its feature_info."""

import math

import pytest
import torch

import archdsl
from archdsl.ir.features import FeatureError, FeatureInfo, feature_points, features_only
from archdsl.ir.verify import verify

TINY = """\
network tiny
input 3x32x32
param num_classes = 10
stem
  conv1 conv 8 3x3 /2 pad=1
  bn1   bn
  relu  relu
  pool0 maxpool 3x3 /2 pad=1
stages basic
  layer1 [1, [[8,3x3],[8,3x3]]]
  layer2 [1, [[16,3x3],[16,3x3]]]  /2
head
  pool global_avgpool
  flatten
  fc   linear num_classes
"""


def points(name: str, **arguments) -> FeatureInfo:
    return archdsl.feature_info(name, **arguments)


@pytest.mark.parametrize("name, channels", [
    ("resnet18", [64, 64, 128, 256, 512]),
    ("resnet50", [64, 256, 512, 1024, 2048]),
])
def test_resnets_give_timms_feature_info(name, channels):
    info = points(name)
    assert info.channels() == channels and info.reduction() == [2, 4, 8, 16, 32]
    assert info.module_name() == ["relu", "layer1", "layer2", "layer3", "layer4"]
    assert info.out_indices == (0, 1, 2, 3, 4) and len(info) == 5
    assert info[1] == {"num_chs": channels[1], "reduction": 4, "module": "layer1", "index": 1}


def test_densenet_points_are_its_blocks_not_the_transitions_inside_them():
    info = points("densenet121")
    assert info.channels() == [64, 256, 512, 1024, 1024] and info.reduction() == [2, 4, 8, 16, 32]
    assert info.module_name()[:4] == ["features.relu0", "features.denseblock1", "features.denseblock2",
                                      "features.denseblock3"]


def test_mobilenet_v2_passes_over_each_blocks_expansion_before_its_stride():
    info = points("mobilenet_v2")
    assert info.channels() == [16, 24, 32, 96, 1280] and info.reduction() == [2, 4, 8, 16, 32]
    assert info.module_name()[:4] == ["features.1", "features.3", "features.6", "features.13"]


def test_inception_v3_at_its_odd_sizes():
    graph = archdsl.load("inception_v3")
    info = archdsl.feature_info(graph)
    assert info.channels() == [64, 192, 288, 768, 2048] and info.reduction() == [2, 4, 8, 16, 32]
    assert info.module_name() == ["Conv2d_2b_3x3", "Conv2d_4a_3x3", "Mixed_5d", "Mixed_6e", "Mixed_7c"]
    sides = [graph[f.node].type.height for f in info.features]
    assert sides == [147, 71, 35, 17, 8]  # 299 / side, to the nearest power of two, is the reduction
    assert [2 ** round(math.log2(299 / side)) for side in sides] == info.reduction()


def test_the_unet_is_refused_with_the_way_to_list_its_maps():
    with pytest.raises(FeatureError, match=r"unet is not a classifier.*`output from NAME, NAME, \.\.\.`"):
        archdsl.build("unet", features_only=True)
    with pytest.raises(ValueError, match="not a classifier"):
        points("unet")


def test_a_network_whose_head_comes_first_has_no_feature_map():
    with pytest.raises(FeatureError, match="mlp has no feature map: its head"):
        points("network mlp\ninput 3x8x8\nflatten\nfc linear 10\n")


@pytest.mark.parametrize("out_indices, selected", [((1, 2), [1, 2]), ([2], [2]), ((-1, 0), [2, 0])])
def test_out_indices_select_points_in_their_order(out_indices, selected):
    info = points(TINY, out_indices=out_indices)
    assert info.out_indices == tuple(selected)
    assert info.channels() == [[8, 8, 16][i] for i in selected] and info.channels(0) == 8
    assert info.reduction([0, 2]) == [2, 8] and info.module_name(2) == "layer2"


@pytest.mark.parametrize("out_indices, error, message", [
    ((), FeatureError, "out_indices is empty: choose at least one of the 3 feature maps"),
    ((1, 3), FeatureError, r"out_indices \(1, 3\): 3 is out of range; this network has 3 feature maps, 0 to 2"),
    ((1, -4), FeatureError, "-4 is out of range"),
    ((1, -2), FeatureError, r"out_indices \(1, -2\) names a feature map twice"),
    ((1.0, 2), TypeError, "out_indices must be a tuple or list of whole numbers"),
    ((True,), TypeError, "out_indices must be a tuple or list of whole numbers"),
    (2, TypeError, "out_indices must be a tuple or list of whole numbers, like"),
])
def test_bad_out_indices_are_refused(out_indices, error, message):
    with pytest.raises(error, match=message):
        points(TINY, out_indices=out_indices)
    with pytest.raises(error, match=message):
        archdsl.build(TINY, features_only=True, out_indices=out_indices)


def test_out_indices_without_features_only_is_refused():
    with pytest.raises(ValueError, match="pass features_only=True with it"):
        archdsl.build(TINY, out_indices=(1,))


def test_features_only_prunes_the_head_and_returns_the_chosen_maps():
    model = archdsl.build(TINY, features_only=True, out_indices=(0, 2))
    full = archdsl.build(TINY)
    keys = set(model.state_dict())
    assert keys == {k for k in full.state_dict() if not k.startswith("fc.")}
    ys = model.eval()(torch.randn(2, 3, 32, 32))
    assert isinstance(ys, list) and [tuple(y.shape) for y in ys] == [(2, 8, 16, 16), (2, 16, 4, 4)]
    assert model.feature_info.channels() == [8, 16] and model.feature_info.module_name() == ["relu", "layer2"]
    graph, info = features_only(archdsl.load(TINY), (2, 0))
    verify(graph)
    assert graph.output_names == ["layer2", "relu"] and info.out_indices == (2, 0)
    assert [n.op for n in graph.nodes()][-1] == "output" and "linear" not in {n.op for n in graph.nodes()}


def test_weights_of_the_whole_classifier_load_into_its_features(tmp_path):
    full = archdsl.build(TINY)
    torch.save(full.state_dict(), tmp_path / "tiny.pth")
    model = archdsl.build(TINY, features_only=True, weights=tmp_path / "tiny.pth")
    theirs = full.state_dict()
    assert all(torch.equal(value, theirs[key]) for key, value in model.state_dict().items())


def test_a_layer_may_not_be_named_feature_info():
    (found,) = archdsl.check("network t\ninput 3x8x8\nfeature_info conv 4 3x3\n")
    assert found.code == "E0213" and "model.feature_info" in found.help


# --- every bundled classifier: the built maps are what feature_info says ---------------------

#: ViTs keep one token sequence from their patch embedding on: no maps at several reductions
SEQUENCES = {"vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14"}
CLASSIFIERS = [name for name in archdsl.list_models() if name != "unet" and name not in SEQUENCES]


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_features_only_maps_match_feature_info(name):
    """Built on the meta device (no memory, no arithmetic: every classifier in a few seconds in
    all) at the spec's declared input size, where each map's side, input side / reduction to the
    nearest power of two, is the brief of timm's reduction. A map is channels first, or
    channels last where the network keeps it so (Swin's, as timm returns them)."""
    graph = archdsl.load(name)
    t = graph.input_type
    with torch.device("meta"):
        model = archdsl.build(graph, features_only=True, init=False).eval()
        maps = model(torch.empty(1, t.channels, t.height, t.width))
    info = model.feature_info
    types = [graph[f.node].type for f in feature_points(graph)]
    types = [types[i] for i in info.out_indices]
    assert [tuple(y.shape[1:]) for y in maps] == [u.shape for u in types]
    assert info.channels() == [u.channels for u in types]
    assert info.reduction() == [2 ** round(math.log2(t.height / u.spatial[0])) for u in types]
    assert info.channels() == archdsl.feature_info(graph).channels()


def test_maxvit_tokens_between_maps_leave_its_stages_as_points():
    """Its partitions make token groups and turn them back into maps inside every layer."""
    info = points("maxvit_t")
    assert info.channels() == [64, 64, 128, 256, 512] and info.reduction() == [2, 4, 8, 16, 32]
    assert info.module_name() == ["stem", "blocks.0", "blocks.1", "blocks.2", "blocks"]


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_a_vit_has_no_feature_maps_and_says_so(name):
    with pytest.raises(FeatureError, match="not hierarchical: its trunk holds a token sequence"):
        archdsl.feature_info(name)


def test_a_features_only_graph_exports_to_onnx_with_its_maps_named(tmp_path):
    onnx = pytest.importorskip("onnx")
    from archdsl.export import export_onnx

    graph, _ = features_only(archdsl.load(TINY), (1, 2))
    report = export_onnx(archdsl.build(graph), graph, tmp_path / "tiny.onnx", dynamic_batch=True)
    assert report.ok
    assert [o.name for o in onnx.load(str(tmp_path / "tiny.onnx")).graph.output] == ["layer1", "layer2"]
