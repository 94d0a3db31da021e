"""Res2Net, SE and DenseNet: the specs against their references' published figures, the blocks
against a direct torch computation, and one broken spec per check the blocks add (E0320-E0325)."""

import pytest
import torch
import torch.nn.functional as F

import archdsl
from archdsl.ir.state import parameter_count, state_entries
from cards import fill
from archdsl.backends.summary.costs import total_macs
from conftest import spec_path
from test_checks import HEADER, only, where

# Parameter counts as timm (Res2Net) and torchvision (DenseNet) publish them: 25.29M, 25.06M,
# 45.21M, 24.67M; the exact figures follow from the reference architectures (worked out by hand
# from timm's Bottle2neck: width = floor(planes x base_width / 64) x cardinality).
PUBLISHED = {
    "res2net50_48w_2s": 25_287_304,
    "res2net50_14w_8s": 25_059_816,
    "res2net101_26w_4s": 45_206_688,
    "res2next50": 24_671_464,
    "densenet161": 28_681_000,
    "densenet169": 14_149_480,
    "densenet201": 20_013_928,
}

# torchvision's published GFLOPS (multiply-accumulates of convs and linears) at 224x224
DENSENET_GMACS = {"densenet121": 2.83, "densenet161": 7.73, "densenet169": 3.36, "densenet201": 4.29}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameter_count(name):
    assert parameter_count(archdsl.load(spec_path(name))) == PUBLISHED[name]


@pytest.mark.parametrize("name", sorted(DENSENET_GMACS))
def test_densenet_macs(name):
    assert total_macs(archdsl.load(spec_path(name))) / 1e9 == pytest.approx(DENSENET_GMACS[name], abs=0.006)


def _keys(name):
    return {e.key: e.shape for e in state_entries(archdsl.load(spec_path(name)))}


def test_res2net_parts_follow_timm():
    keys = _keys("res2net101_26w_4s")
    assert keys["layer1.0.conv1.weight"] == (104, 64, 1, 1)
    assert keys["layer3.22.convs.2.weight"] == (104, 104, 3, 3)
    assert keys["layer3.22.bns.2.running_var"] == (104,)
    assert keys["layer4.0.downsample.0.weight"] == (2048, 1024, 1, 1)
    assert "layer3.22.convs.3.weight" not in keys and "layer3.1.downsample.0.weight" not in keys
    two = _keys("res2net50_48w_2s")
    assert two["layer1.0.convs.0.weight"] == (48, 48, 3, 3) and "layer1.0.convs.1.weight" not in two
    eight = _keys("res2net50_14w_8s")
    assert eight["layer4.2.convs.6.weight"] == (112, 112, 3, 3) and eight["layer4.2.conv3.weight"] == (2048, 896, 1, 1)


def test_res2next_groups_its_part_convs():
    keys = _keys("res2next50")
    assert keys["layer1.0.convs.0.weight"] == (32, 4, 3, 3)  # 32 channels in 8 groups
    assert keys["layer4.0.convs.2.weight"] == (256, 32, 3, 3)
    assert keys["layer4.0.conv1.weight"] == (1024, 1024, 1, 1)


@pytest.mark.parametrize("name, last_unit, in_channels, classifier", [
    ("densenet161", "denseblock4.denselayer24", 1056 + 23 * 48, 2208),
    ("densenet169", "denseblock4.denselayer32", 640 + 31 * 32, 1664),
    ("densenet201", "denseblock4.denselayer32", 896 + 31 * 32, 1920),
])
def test_densenet_concatenations(name, last_unit, in_channels, classifier):
    keys = _keys(name)
    growth = 48 if name == "densenet161" else 32
    assert keys[f"features.{last_unit}.norm1.weight"] == (in_channels,)
    assert keys[f"features.{last_unit}.conv1.weight"] == (4 * growth, in_channels, 1, 1)
    assert keys[f"features.{last_unit}.conv2.weight"] == (growth, 4 * growth, 3, 3)
    assert keys["features.norm5.weight"] == (classifier,)
    assert keys["classifier.weight"] == (1000, classifier)


def test_densenet161_stem_and_transitions():
    keys = _keys("densenet161")
    assert keys["features.conv0.weight"] == (96, 3, 7, 7)
    assert keys["features.transition1.conv.weight"] == (192, 384, 1, 1)
    assert keys["features.transition3.conv.weight"] == (1056, 2112, 1, 1)
    assert not any(k.startswith("features.transition4") for k in keys)


def test_first_block_rule_pools_and_does_not_chain():
    graph = archdsl.load(spec_path("res2net50_26w_4s"))
    nodes = {n.path: n for n in graph.nodes()}
    assert nodes["layer1.0.pool"].stride == (1, 1) and nodes["layer2.0.pool"].stride == (2, 2)
    assert nodes["layer2.0.pool"].type.channels == 52
    assert "layer1.1.pool" not in nodes and "layer1.0.chain1" not in nodes
    assert [graph[i].path for i in nodes["layer1.1.chain2"].inputs] == ["layer1.1.split2", "layer1.1.relu"]


# --- the blocks against a direct torch computation ---------------------------------------


def _bn(x, sd, path, eps=1e-5):
    return F.batch_norm(x, sd[f"{path}.running_mean"], sd[f"{path}.running_var"], sd[f"{path}.weight"],
                        sd[f"{path}.bias"], False, 0.0, eps)


def _conv(x, sd, path, stride=1, groups=1):
    weight = sd[f"{path}.weight"]
    return F.conv2d(x, weight, sd.get(f"{path}.bias"), stride, weight.shape[-1] // 2, groups=groups)


def _res2_reference(x, sd, path, stride, scales, groups=1, keep_first=False, pool_first=True,
                    stride_first=False, se=False):
    """Res2Net's block, written from the paper's equations (and timm's first-block rule)."""
    projected = f"{path}.downsample.0.weight" in sd
    shortcut = _bn(_conv(x, sd, f"{path}.downsample.0", stride), sd, f"{path}.downsample.1") if projected else x
    y = F.relu(_bn(_conv(x, sd, f"{path}.conv1", stride if stride_first else 1), sd, f"{path}.bn1"))
    stride = 1 if stride_first else stride
    xs = list(torch.chunk(y, scales, dim=1))
    kept = xs.pop(0) if keep_first else xs.pop()
    plain = pool_first and (stride > 1 or projected)
    ys = []
    for i, part in enumerate(xs):
        if ys and not plain:
            part = part + ys[-1]
        ys.append(F.relu(_bn(_conv(part, sd, f"{path}.convs.{i}", stride, groups), sd, f"{path}.bns.{i}")))
    if plain:
        kept = F.avg_pool2d(kept, 3, stride, 1)
    y = torch.cat([kept, *ys] if keep_first else [*ys, kept], dim=1)
    y = _bn(_conv(y, sd, f"{path}.conv3"), sd, f"{path}.bn3")
    if se:
        gate = F.relu(_conv(y.mean((2, 3), keepdim=True), sd, f"{path}.se.fc1"))
        y = y * torch.sigmoid(_conv(gate, sd, f"{path}.se.fc2"))
    return F.relu(y + shortcut)


RES2_TINY = """network tiny_res2
input 8x9x9
param num_classes = 3
stages res2 {options}
  layer1 [2, [[24,1x1],[24,3x3],[32,1x1]]] /2
  layer2 [1, [[24,1x1],[24,3x3],[32,1x1]]]
global_avgpool
flatten
fc linear num_classes
"""


def _filled(text):
    model = archdsl.build(text, init=False)
    fill(model)
    return model.eval(), model.state_dict()


@pytest.mark.parametrize("options, kwargs", [
    ("scales=3 groups=2", dict(scales=3, groups=2)),
    ("scales=3 se=4 bias=true stride_at=first keep_first=true pool_first=false",
     dict(scales=3, se=True, stride_first=True, keep_first=True, pool_first=False)),
])
def test_res2_block_computes_the_hierarchy(options, kwargs):
    model, sd = _filled(RES2_TINY.format(options=options))
    x = torch.randn(2, 8, 9, 9, generator=torch.Generator().manual_seed(3))
    y = x
    for path, stride in [("layer1.0", 2), ("layer1.1", 1), ("layer2.0", 1)]:
        y = _res2_reference(y, sd, path, stride, **kwargs)
    expected = F.linear(y.mean((2, 3)), sd["fc.weight"], sd["fc.bias"])
    with torch.no_grad():
        assert torch.allclose(model(x), expected, rtol=1e-4, atol=1e-5)


DENSE_TINY = """network tiny_dense
input 4x11x11
param num_classes = 3
stages dense
  block1 [3, [[8,1x1],[4,3x3]]] out=16
  t1     transition compress=0.5 out=8
  block2 [2, [[6,3x3]]] bias=true
norm bn
relu
global_avgpool
flatten
fc linear num_classes
"""


def test_dense_blocks_concatenate_and_transitions_halve():
    model, sd = _filled(DENSE_TINY)
    x = torch.randn(2, 4, 11, 11, generator=torch.Generator().manual_seed(4))
    y = x
    for block, units, convs in [("block1", 3, 2), ("block2", 2, 1)]:
        for i in range(1, units + 1):
            new = y
            for k in range(1, convs + 1):
                new = _conv(F.relu(_bn(new, sd, f"{block}.denselayer{i}.norm{k}")), sd,
                            f"{block}.denselayer{i}.conv{k}")
            y = torch.cat([y, new], dim=1)
        if block == "block1":
            y = F.avg_pool2d(_conv(F.relu(_bn(y, sd, "t1.norm")), sd, "t1.conv"), 2, 2)
            assert y.shape[1:] == (8, 5, 5)
    assert y.shape[1] == 8 + 2 * 6
    expected = F.linear(F.relu(_bn(y, sd, "norm")).mean((2, 3)), sd["fc.weight"], sd["fc.bias"])
    with torch.no_grad():
        assert torch.allclose(model(x), expected, rtol=1e-4, atol=1e-5)


def test_se_on_a_basic_block():
    text = ("network t\ninput 3x16x16\nparam num_classes = 4\nstem\n  conv 32 3x3 pad=1\n"
            "stages basic se=8\n  layer1 [1, [[32,3x3],[32,3x3]]]\nglobal_avgpool\nflatten\nlinear num_classes\n")
    keys = {e.key: e.shape for e in state_entries(archdsl.load(text))}
    assert keys["layer1.0.se.fc1.weight"] == (4, 32, 1, 1) and keys["layer1.0.se.fc1.bias"] == (4,)
    assert keys["layer1.0.se.fc2.weight"] == (32, 4, 1, 1) and keys["layer1.0.se.fc2.bias"] == (32,)


# --- what the checker learns -------------------------------------------------------------

def test_scales_must_divide_the_split_channels():
    d = only("stages res2 scales=4\n  layer1 [1, [[30,1x1],[30,3x3],[64,1x1]]]\n")
    assert where(d) == ("E0320", 5, 24)  # the [30,3x3] entry
    assert "4 scales do not divide" in d.message and "nearest: 28, 32" in d.help


def test_split_channels_come_from_conv1():
    d = only("stages res2 scales=4\n  layer1 [1, [[32,1x1],[28,3x3],[64,1x1]]]\n")
    assert where(d) == ("E0321", 5, 24) and "conv1 gives 32" in d.message
    assert [(n.span.line, n.span.col) for n in d.notes] == [(5, 15)]


def test_declared_base_width_is_checked():
    d = only("stages res2 scales=4 width=26\n  layer1 [1, [[96,1x1],[96,3x3],[256,1x1]]]\n")
    assert where(d) == ("E0325", 5, 24)
    assert "4 parts of 26" in d.message and "[104,3x3]" in d.help


def test_part_convs_groups_must_divide_the_part_width():
    d = only("stages res2 scales=4 groups=3\n  layer1 [1, [[32,1x1],[32,3x3],[64,1x1]]]\n")
    assert where(d) == ("E0304", 5, 24) and "a part's 8 channels" in d.message
    assert "multiple of scales x groups = 12; nearest: 24, 36" in d.help  # the widths written in the row


def test_kept_part_must_be_pooled_where_the_3x3s_stride():
    d = only("stages res2 pool_first=false\n  layer1 [1, [[16,1x1],[16,3x3],[64,1x1]]] /2\n")
    assert where(d) == ("E0326", 5, 24) and "stride_at=first" in d.help
    assert archdsl.check(HEADER + "stages res2 pool_first=false stride_at=first\n"
                         "  layer1 [1, [[16,1x1],[16,3x3],[64,1x1]]] /2\n") == []


def test_se_reduction_must_leave_channels():
    d = only("stages bottleneck se=32\n  layer1 [1, [[4,1x1],[4,3x3],[16,1x1]]]\n")
    assert where(d) == ("E0322", 5, 31)  # the [16,1x1] entry: the block's output
    assert "se=16" in d.help


def test_dense_block_concat_arithmetic():
    d = only("stages dense\n  block1 [2, [[8,1x1],[4,3x3]]] out=12\n")
    assert where(d) == ("E0323", 5, 33)  # at the `out=12` it contradicts
    assert d.label == "3 + 2 x 4 = 11" and "write out=11" in d.help


def test_transition_output_is_rounded_down():
    d = only("stages dense\n  block1 [2, [[8,1x1],[4,3x3]]]\n  t1 transition compress=0.3 out=4\n")
    assert where(d) == ("E0324", 6, 30)  # at the `out=4` it contradicts
    assert d.label == "11 x 0.3 = 3.3, rounded down to 3" and "write out=3" in d.help


def test_transition_must_leave_channels():
    d = only("t1 transition compress=0.25\n")
    assert where(d) == ("E0324", 4, 1) and "3 x 0.25 = 0.75, rounded down to 0" in d.message


@pytest.mark.parametrize("body, code, label", [
    ("t1 transition compress=1.5\n", "E0209", "compress=1.5"),
    ("t1 transition /2\n", "E0206", "/2 on `t1`"),
    ("stages dense\n  block1 [2, [[8,1x1],[4,3x3]]] /2\n", "E0206", "/2 on `block1`"),
])
def test_dense_rows_reject_bad_values(body, code, label):
    d = only(body)
    assert d.code == code and d.label == label


def test_transition_takes_no_table():
    d = only("t1 transition [1, [[8,1x1]]]\n")
    assert d.code == "E0211" and "transition1 transition compress=0.5" in d.help


def test_an_out_on_the_stages_line_is_blamed_there_and_said_to_reach_every_row():
    d = only("conv 16 3x3 pad=1\nstages dense out=48\n  db [2, [[16,3x3]]]\n  tr transition\n")
    assert where(d) == ("E0324", 5, 14) and "reaches every row" in d.help and "out=24" in d.help
