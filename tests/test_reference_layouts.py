"""The ResNet-family specs against the published figures of their reference implementations
(torchvision / timm): parameter counts, MACs and characteristic keys. Their full state_dict
layouts and logits are checked against reference cards in test_cards.py."""

import pytest

import archdsl
from archdsl.ir.state import parameter_count, state_entries
from archdsl.backends.summary.costs import total_macs
from conftest import spec_path

# Parameter counts and GMACs at 224x224 as torchvision and timm publish them.
PUBLISHED = {
    "resnet18": (11_689_512, 1.814),
    "resnet34": (21_797_672, 3.664),
    "resnet50": (25_557_032, 4.089),
    "resnet101": (44_549_160, 7.801),
    "resnet152": (60_192_808, 11.514),
    "resnext50_32x4d": (25_028_904, 4.230),
    "resnext101_32x8d": (88_791_336, 16.414),
    "wide_resnet50_2": (68_883_240, 11.398),
    "resnet50d": (25_576_264, 4.35),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_size(name):
    params, gmacs = PUBLISHED[name]
    graph = archdsl.load(spec_path(name))
    assert parameter_count(graph) == params
    assert total_macs(graph) / 1e9 == pytest.approx(gmacs, rel=0.01)


def _keys(name):
    return {e.key: e.shape for e in state_entries(archdsl.load(spec_path(name)))}


def test_resnet50d_follows_timm_naming():
    keys = _keys("resnet50d")
    for stem_conv, shape in [("conv1.0", (32, 3, 3, 3)), ("conv1.3", (32, 32, 3, 3)), ("conv1.6", (64, 32, 3, 3))]:
        assert keys[f"{stem_conv}.weight"] == shape
    assert "conv1.1.running_var" in keys and "conv1.4.running_var" in keys and "bn1.weight" in keys
    # avg-down shortcut: pool at downsample.0 (no state), conv at .1, norm at .2
    assert keys["layer1.0.downsample.1.weight"] == (256, 64, 1, 1)
    assert keys["layer2.0.downsample.1.weight"] == (512, 256, 1, 1)
    assert "layer2.0.downsample.2.running_mean" in keys
    assert not any(k.startswith("layer2.1.downsample") for k in keys)


def test_resnext101_grouped_convs():
    keys = _keys("resnext101_32x8d")
    assert keys["layer1.0.conv2.weight"] == (256, 8, 3, 3)
    assert keys["layer4.2.conv2.weight"] == (2048, 64, 3, 3)
    assert keys["layer3.22.conv3.weight"] == (1024, 1024, 1, 1)
    assert keys["fc.weight"] == (1000, 2048)


def test_resnet34_basic_blocks():
    keys = _keys("resnet34")
    assert keys["layer3.5.conv2.weight"] == (256, 256, 3, 3)
    assert "layer2.0.downsample.0.weight" in keys and "layer2.1.downsample.0.weight" not in keys
    assert not any(".conv3." in k for k in keys)
