"""`dilate=true` on residual stage rows: torchvision's replace_stride_with_dilation (`ResNet._make_layer`).

A dilated row trades its stride for dilation: the running dilation of its `stages` section is multiplied
by the stride, the row's first block keeps the dilation of the rows before it, the others take the new
one, and the projection shortcut is a 1x1 conv of stride 1. (tests/test_segmentation.py holds FCN and
DeepLabV3, whose backbones are built this way, to torchvision's numbers.)
"""

import pytest

import archdsl

STEM = "network t\ninput 3x64x64\nstem\n  conv1 conv 64 7x7 /2 pad=3\n  bn1 bn\n  relu relu\n  maxpool maxpool 3x3 /2 pad=1\n"
ROWS = ("  layer1 [1, [[16,1x1],[16,3x3],[64,1x1]]]\n"
        "  layer2 [2, [[32,1x1],[32,3x3],[128,1x1]]] /2\n"
        "  layer3 [3, [[64,1x1],[64,3x3],[256,1x1]]] /2 {d3}\n"
        "  layer4 [3, [[128,1x1],[128,3x3],[512,1x1]]] /2 {d4}\n")


def convs(text: str) -> dict:
    return {n.path: n for n in archdsl.load(text).nodes() if n.op == "conv"}


def geometry(node) -> tuple:
    return node.stride[0], node.dilation[0], node.padding[0]


def test_torchvision_s_rule_for_the_last_two_stages():
    found = convs(STEM + "stages bottleneck\n" + ROWS.format(d3="dilate=true", d4="dilate=true"))
    # (stride, dilation, padding) of each 3x3, as torchvision's resnet50(replace_stride_with_dilation=[F, T, T])
    assert geometry(found["layer2.0.conv2"]) == (2, 1, 1)
    assert geometry(found["layer3.0.conv2"]) == (1, 1, 1)  # the first block keeps the previous dilation
    assert [geometry(found[f"layer3.{i}.conv2"]) for i in (1, 2)] == [(1, 2, 2)] * 2
    assert geometry(found["layer4.0.conv2"]) == (1, 2, 2)
    assert [geometry(found[f"layer4.{i}.conv2"]) for i in (1, 2)] == [(1, 4, 4)] * 2
    for stage in ("layer3", "layer4"):  # the projection stays a 1x1 conv, now of stride 1
        down = found[f"{stage}.0.downsample.0"]
        assert down.kernel == (1, 1) and geometry(down) == (1, 1, 0)
    assert all(geometry(n)[1] == 1 for path, n in found.items() if n.kernel == (1, 1))
    assert str(found["layer4.2.conv3"].type) == "512x8x8"  # output stride 8, not 32


def test_a_row_after_a_dilated_one_keeps_the_running_dilation():
    found = convs(STEM + "stages bottleneck\n" + ROWS.format(d3="dilate=true", d4=""))
    assert geometry(found["layer4.0.conv2"]) == (2, 2, 2)  # strided, and dilated by layer3's factor
    assert geometry(found["layer4.1.conv2"]) == (1, 2, 2)


def test_each_stages_section_starts_undilated():
    text = STEM + "stages bottleneck\n" + ROWS.format(d3="dilate=true", d4="dilate=true") + \
        "stages bottleneck\n  layer5 [2, [[128,1x1],[128,3x3],[512,1x1]]]\n"
    assert [geometry(convs(text)[f"layer5.{i}.conv2"]) for i in (0, 1)] == [(1, 1, 1)] * 2


def test_basic_blocks_dilate_both_convs():
    found = convs(STEM + "stages basic\n  layer1 [2, [[64,3x3],[64,3x3]]]\n  layer2 [2, [[128,3x3],[128,3x3]]] /2 "
                  "dilate=true\n")
    assert [geometry(found[f"layer2.0.conv{j}"]) for j in (1, 2)] == [(1, 1, 1)] * 2
    assert [geometry(found[f"layer2.1.conv{j}"]) for j in (1, 2)] == [(1, 2, 2)] * 2


def test_the_built_convs_carry_the_dilation_and_the_row_keeps_the_size():
    import torch

    model = archdsl.build("network t\ninput 8x16x16\nstages bottleneck\n"
                          "  layer1 [2, [[4,1x1],[4,3x3],[16,1x1]]] /2 dilate=true\n").eval()
    first, second = model.get_submodule("layer1.0.conv2"), model.get_submodule("layer1.1.conv2")
    assert (first.dilation, first.padding, first.stride) == ((1, 1), (1, 1), (1, 1))
    assert (second.dilation, second.padding, second.stride) == ((2, 2), (2, 2), (1, 1))
    with torch.no_grad():
        assert model(torch.randn(1, 8, 16, 16)).shape == (1, 16, 16, 16)


@pytest.mark.parametrize("text, code, where", [
    ("stages res2\n  layer1 [1, [[32,1x1],[32,3x3],[64,1x1]]] dilate=true\n", "E0203", "`res2` has no option `dilate`"),
    ("stages bottleneck\n  layer1 [1, [[16,1x1],[16,3x3],[64,1x1]]] dilate=2\n", "E0209", "dilate"),
])
def test_mistakes(text, code, where):
    found = archdsl.check(STEM + text)
    assert [d.code for d in found] == [code] and where in found[0].message + found[0].label
