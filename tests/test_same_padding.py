"""TensorFlow's `pad=same`, as the Keras seeds need it: convs, pools and whole blocks compute what
TensorFlow computes (the extra padding at the bottom and right; max pools never pick padding,
average pools leave it out), checked against windows worked out cell by cell."""

import math

import pytest
import torch
import torch.nn.functional as F

import archdsl
from archdsl.backends.torch.codegen import generated_code
from conftest import spec_path


def tf_sides(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def tf_pool(x, kernel: int, stride: int, kind: str):
    """TensorFlow's max/avg pool with padding='same', one output cell at a time."""
    _, _, height, width = x.shape
    (top, _), (left, _) = tf_sides(height, kernel, stride), tf_sides(width, kernel, stride)
    rows, cols = math.ceil(height / stride), math.ceil(width / stride)
    out = torch.empty(*x.shape[:2], rows, cols)
    for i in range(rows):
        for j in range(cols):
            r, c = i * stride - top, j * stride - left
            window = x[:, :, max(r, 0):r + kernel, max(c, 0):c + kernel]  # the image cells only
            out[:, :, i, j] = window.amax((2, 3)) if kind == "max" else window.mean((2, 3))
    return out


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("height, width, kernel, stride", [
    (16, 17, 3, 2), (7, 12, 3, 2), (8, 9, 2, 2), (17, 9, 5, 3), (8, 8, 3, 1), (9, 12, 2, 1)])
def test_pools_with_pad_same_are_tensorflow_s(kind, height, width, kernel, stride):
    model = archdsl.build(f"network p\ninput 2x{height}x{width}\n{kind}pool {kernel}x{kernel} /{stride} pad=same\n")
    x = torch.randn(3, 2, height, width)
    expected = tf_pool(x, kernel, stride, kind)
    assert torch.allclose(model(x), expected, atol=1e-6)


def test_a_conv_with_pad_same_is_tensorflow_s():
    model = archdsl.build("network c\ninput 3x16x15\nc conv 4 3x3 /2 pad=same\n")
    x = torch.randn(2, 3, 16, 15)
    (top, bottom), (left, right) = tf_sides(16, 3, 2), tf_sides(15, 3, 2)
    assert (top, bottom, left, right) == (0, 1, 1, 1)
    expected = F.conv2d(F.pad(x, (left, right, top, bottom)), model.c.weight, stride=2)
    assert torch.allclose(model(x), expected, atol=1e-6)


@torch.no_grad()
def test_a_block_row_with_pad_same_pads_its_strided_conv_as_tensorflow_does():
    spec = "network b\ninput 8x16x16\nstages basic stride_at=first pad=same\n  l [1, [[16,3x3],[16,3x3]]] /2\n"
    model = archdsl.build(spec).eval()
    block = model.l.get_submodule("0")
    x = torch.randn(2, 8, 16, 16)
    y = F.conv2d(F.pad(x, (0, 1, 0, 1)), block.conv1.weight, stride=2)  # TensorFlow: the extra row below
    y = F.conv2d(torch.relu(block.bn1(y)), block.conv2.weight, padding=1)
    shortcut = block.downsample.get_submodule("1")(F.conv2d(x, block.downsample.get_submodule("0").weight, stride=2))
    assert torch.allclose(model(x), torch.relu(block.bn2(y) + shortcut), atol=1e-5)
    symmetric = archdsl.build(spec.replace(" pad=same", "")).eval()
    symmetric.load_state_dict(model.state_dict())
    assert not torch.allclose(symmetric(x), model(x), atol=1e-3)  # PyTorch's padding is another function


def test_pad_same_on_a_pool_fixes_the_size_so_ceil_is_refused():
    d = archdsl.check("network p\ninput 3x16x16\nmaxpool 3x3 /2 pad=same ceil=true\n")[0]
    assert (d.code, d.span.line) == ("E0202", 3) and "drop `ceil`" in d.help


def test_default_bn_momentum_reaches_the_norms_blocks_make():
    spec = ("network m\ninput 3x32x32\ndefault bn eps=0.001 momentum=0.01\nbn\n"
            "stages bottleneck\n  l [1, [[8,1x1],[8,3x3],[32,1x1]]]\n")
    model = archdsl.build(spec)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 5 and {(m.eps, m.momentum) for m in norms} == {(0.001, 0.01)}
    own = archdsl.build(spec.replace("stages bottleneck", "stages bottleneck momentum=0.3"))  # the row's own wins
    assert {m.momentum for m in own.l.modules() if isinstance(m, torch.nn.BatchNorm2d)} == {0.3}


@torch.no_grad()
def test_a_strided_pad_same_binds_the_module_to_its_input_size_and_says_so():
    fixed = archdsl.build("network f\ninput 3x16x16\nconv 4 3x3 /2 pad=same\n")
    assert fixed(torch.randn(1, 3, 16, 16)).shape == (1, 4, 8, 8)
    with pytest.raises(AssertionError, match=r"f takes 16x16 images: pad=same with a stride is worked out for the declared size \(at .*:3:1\).*input_size="):
        fixed(torch.randn(1, 3, 17, 17))  # TensorFlow would pad 17 evenly: silently wrong otherwise
    assert archdsl.build("network f\ninput 3x16x16\nconv 4 3x3 /2 pad=same\n", input_size=(17, 17))(
        torch.randn(1, 3, 17, 17)).shape == (1, 4, 9, 9)
    any_size = archdsl.build("network a\ninput 3x16x16\nconv 4 3x3 pad=same\nmaxpool 3x3 /1 pad=same\n")
    assert "_assert" not in any_size.code and any_size(torch.randn(1, 3, 21, 9)).shape == (1, 4, 21, 9)
    assert "_assert" not in generated_code(archdsl.build(spec_path("resnet18"), init=False))
