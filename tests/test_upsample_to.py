"""`upsample to=NAME`: an upsample to the size another value has when the network runs.

The IR records the value as the upsample's second input; the torch module reads its shape at run
time, so one module is right at every input size; the checker types it at the declared size.
"""

import pytest
import torch
import torch.nn.functional as F

import archdsl
from archdsl.ir.features import reduction_levels
from archdsl.ir.printer import dump
from archdsl.ir.verify import verify

HEAD = "network t\ninput 3x32x32\n"
#: two strided convs, then back to the input's size (a segmentation head's last step)
TO_INPUT = HEAD + "c1 conv 4 3x3 /2 pad=1\nc2 conv 4 3x3 /2 pad=1\nu upsample to=input mode=bilinear\n"


def test_the_ir_records_the_value_as_a_second_input():
    graph = archdsl.load(TO_INPUT)
    verify(graph)
    up = next(n for n in graph.nodes() if n.op == "upsample")
    assert len(up.inputs) == 2 and graph[up.inputs[1]].op == "input"
    assert graph[up.inputs[0]].path == "c2"
    assert up.matches_input and up.scale is None and up.size is None
    assert str(up.type) == "4x32x32"
    assert str(archdsl.load(TO_INPUT, input_size=(45, 51))[up.id].type) == "4x45x51"


@pytest.mark.parametrize("size", [(32, 32), (45, 51), (97, 97), (8, 12)])
def test_the_module_follows_the_input_size_at_run_time(size):
    model = archdsl.build(TO_INPUT).eval()  # built once at the declared 32x32
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        out = model(x)
        c2 = model.c2(model.c1(x))
        expected = F.interpolate(c2, size=size, mode="bilinear", align_corners=False)
    assert out.shape == (2, 4, *size)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_to_a_feature_map_and_inside_a_block():
    spec = HEAD + (
        "block pooled out\n"
        "  p adaptive_avgpool 1\n"
        "  conv out 1x1\n"
        "  upsample to=input mode=bilinear\n"  # the block's input, as DeepLabV3's ASPP pooling does
        "\n"
        "c1 conv 8 3x3 /2 pad=1\n"
        "c2 conv 8 3x3 /2 pad=1\n"
        "g pooled 8\n"
        "u upsample to=c1 from g\n"
        "add from c1, u\n")
    graph = archdsl.load(spec)
    ups = [n for n in graph.nodes() if n.op == "upsample"]
    assert [str(n.type) for n in ups] == ["8x8x8", "8x16x16"]
    assert [graph[n.inputs[1]].path for n in ups] == ["c2", "c1"]
    model = archdsl.build(graph).eval()
    x = torch.randn(1, 3, 50, 70)
    with torch.no_grad():
        c1 = model.c1(x)
        pooled = model.g(model.c2(c1))
        assert pooled.shape == (1, 8, 13, 18)
        expected = c1 + F.interpolate(pooled, size=c1.shape[-2:])
        torch.testing.assert_close(model(x), expected)


def test_the_reduction_of_an_upsample_to_the_input_is_one():
    graph = archdsl.load(TO_INPUT)
    levels = reduction_levels(graph)
    assert levels[graph.output.inputs[0]] == 1.0
    assert levels[graph.output.inputs[0] - 1] == 4.0  # c2


def test_a_diagram_draws_the_size_edge():
    from archdsl.backends.diagram.view import build_view

    edges = build_view(archdsl.load(TO_INPUT), "layer").edges
    size_edges = [e for e in edges if e.label.startswith("size of")]
    assert [e.label for e in size_edges] == ["size of 3x32x32"] and size_edges[0].shortcut


def test_torch_export_keeps_the_size_dynamic():
    model = archdsl.build(TO_INPUT).eval()
    x = torch.randn(1, 3, 32, 32)
    h, w = torch.export.Dim("h", min=8, max=256), torch.export.Dim("w", min=8, max=256)
    program = torch.export.export(model, (x,), dynamic_shapes=({2: h, 3: w},))
    y = torch.randn(1, 3, 40, 56)
    torch.testing.assert_close(program.module()(y), model(y))


@pytest.mark.parametrize("line, code, text", [
    ("u upsample to=input scale=2\n", "E0202", "`scale` and `to` both set the output size"),
    ("u upsample to=input size=8\n", "E0202", "`size` and `to` both set the output size"),
    ("u upsample to=3\n", "E0209", "`to` names a value"),
    ("u upsample to=nowhere\n", "E0204", "unknown value `nowhere`"),
    ("f flatten\nu upsample to=f from input\n", "E0305", "upsample needs an image"),
    ("u upsample\n", "E0207", "to=input"),
])
def test_mistakes_are_diagnosed_at_the_line(line, code, text):
    found = archdsl.check(HEAD + line)
    assert [d.code for d in found] == [code], [(d.code, d.message) for d in found]
    assert text in found[0].message + " " + found[0].help
    assert found[0].span.line >= 3


def test_the_language_doc_example_is_real():
    import re

    from conftest import ROOT

    doc = (ROOT / "docs" / "language.md").read_text()
    (spec,) = [b for b in re.findall(r"^```[a-z]*\n(.*?)^```", doc, re.S | re.M) if b.startswith("network tiny_seg")]
    assert archdsl.check(spec) == []
    graph = archdsl.load(spec)
    assert "%6 = upsample(%5, %0) mode=bilinear @out : 5x64x64" in dump(graph)  # as the doc quotes it
    model = archdsl.build(graph).eval()
    assert model(torch.randn(1, 3, 70, 90)).shape == (1, 5, 70, 90)


def test_a_written_out_size_is_warned_about_with_the_form_that_follows_the_input():
    (found,) = archdsl.check(HEAD + "c1 conv 4 3x3 /2 pad=1\nu upsample size=32x32 mode=bilinear\n")
    assert found.code == "W0420" and not found.is_error and "ties the network to one input size" in found.message
    assert "`upsample to=input`" in found.help and found.span.line == 4
    (found,) = archdsl.check(HEAD + "c1 conv 4 3x3 /2 pad=1\nu upsample size=20\n")
    assert found.code == "W0420" and "`upsample to=NAME`" in found.help and "20x20 whatever the input" in found.label
    assert archdsl.check(TO_INPUT) == []
    assert archdsl.check(HEAD + "c1 conv 4 3x3 /2 pad=1\nu upsample scale=2\n") == []
