"""Several outputs: `output from a, b` in the language, its diagnostics, and every back end
showing every output (check, --emit ir, summary text and JSON, DOT and Mermaid, torch, ONNX)."""

import json

import pytest
import torch

import archdsl
from archdsl.cli import main

HEAD = "network t\ninput 3x32x32\nc3 conv 8 3x3 /2 pad=1\nc4 conv 16 3x3 /2 pad=1\nc5 conv 32 3x3 /2 pad=1\n"
SEG = """\
network seg
input 3x64x64
param num_classes = 5
down1  conv 16 3x3 /2 pad=1
norm1  bn
act1   relu
down2  conv 32 3x3 /2 pad=1
norm2  bn
act2   relu
aux    conv num_classes 1x1 bias=true
pooled global_avgpool from act2
flat   flatten
kind   linear 3
up     upsample scale=4 from act2
logits conv num_classes 1x1 bias=true

output from logits, aux, kind
"""


def only(text: str):
    (found,) = archdsl.check(text)
    return found


def where(d) -> tuple:
    return d.code, d.span.line, d.span.col


def test_a_spec_returns_the_values_output_lists_in_order():
    graph = archdsl.load(SEG)
    assert graph.output_names == ["logits", "aux", "kind"]
    assert [str(t) for t in graph.output_types] == ["5x64x64", "5x16x16", "3"]
    assert graph.output_type is None and graph.outputs_text() == "logits 5x64x64, aux 5x16x16, kind 3"
    ys = archdsl.build(SEG).eval()(torch.randn(2, 3, 64, 64))
    assert isinstance(ys, list) and [tuple(y.shape) for y in ys] == [(2, 5, 64, 64), (2, 5, 16, 16), (2, 3)]


def test_one_listed_output_is_a_list_of_one_and_no_output_line_a_tensor():
    listed = archdsl.build(HEAD + "output from c5\n")
    assert [tuple(y.shape) for y in listed(torch.randn(1, 3, 32, 32))] == [(1, 32, 4, 4)]
    graph = archdsl.load(HEAD + "output from c5\n")
    assert str(graph.output_type) == "32x4x4" and graph.output_names == ["c5"]
    assert isinstance(archdsl.build(HEAD)(torch.randn(1, 3, 32, 32)), torch.Tensor)


def test_values_listed_in_output_count_as_used():
    branched = HEAD + "c6 conv 4 1x1 from c4\n"
    assert archdsl.check(branched + "output from c5, c6\n") == []
    (found,) = archdsl.check(branched + "output from c6\n")
    assert (found.code, found.message) == ("W0401", "`c5` is computed but never used")
    assert "or return it (`output from NAME, ...`)" in found.help


@pytest.mark.parametrize("tail, code, line, col, help", [
    ("output from c3, c9\n", "E0204", 6, 17, "refer to a layer defined above"),
    ("output from c5, c3, c5\n", "E0202", 6, 21, "list each output once"),
    ("output c3 c4\n", "E0206", 6, 8, "write `output from c3, c4`"),
    ("output\n", "E0207", 6, 1, "list them: `output from c3, c4, c5`"),
    ("output from c5\nrelu\n", "E0210", 7, 1, "`output` ends the network"),
    ("output from c5\noutput from c4\n", "E0202", 7, 1, "list every output in one `output from` line"),
    ("scope s\n  output from c5\n", "E0210", 7, 3, "as the spec's last statement"),
    ("head\n  output from c5\n", "E0210", 7, 3, "as the spec's last statement"),
    ("output from c5\n  conv 3 3x3\n", "E0104", 7, 3, "open an indented block"),
])
def test_output_mistakes_are_reported_at_their_place(tail, code, line, col, help):
    found = only(HEAD + tail)
    assert where(found) == (code, line, col) and help in found.help


def test_blocks_may_follow_output_and_a_layer_may_still_be_named_output():
    spec = HEAD + "output from c4, c5\nblock unused_one c\n  conv c 3x3\n"
    assert [d.code for d in archdsl.check(spec)] == ["W0411"]  # the block is never used
    graph = archdsl.load("network t\ninput 3x8x8\nflatten\noutput linear 10\n")
    assert graph.output_names == ["output"] and graph.outputs[0].path == "output"


@pytest.fixture
def seg(tmp_path):
    """SEG as a file."""
    path = tmp_path / "seg.arch"
    path.write_text(SEG)
    return path


def test_emit_ir_check_and_summary_show_every_output(seg, capsys):
    path = seg
    assert main(["compile", str(path), "--check"]) == 0
    assert "at 3x64x64 -> logits 5x64x64, aux 5x16x16, kind 3 (" in capsys.readouterr().out
    assert main(["compile", str(path), "--emit", "ir"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.endswith("names=logits,aux,kind @output : 5x64x64, 5x16x16, 3")
    assert main(["summary", str(path)]) == 0
    assert capsys.readouterr().out.startswith("seg: 3x64x64 -> logits 5x64x64, aux 5x16x16, kind 3\n")
    assert main(["summary", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["outputs"] == [{"name": "logits", "type": "5x64x64"}, {"name": "aux", "type": "5x16x16"},
                               {"name": "kind", "type": "3"}]
    assert data["output"] == "logits 5x64x64, aux 5x16x16, kind 3"
    assert main(["summary", "resnet18", "--json"]) == 0
    single = json.loads(capsys.readouterr().out)
    assert single["output"] == "1000" and single["outputs"] == [{"name": "output", "type": "1000"}]


def test_both_diagrams_end_in_a_box_per_output(seg, tmp_path):
    path = seg
    assert main(["render", str(path), "-o", str(tmp_path / "seg.dot"), "--depth", "layer"]) == 0
    assert main(["render", str(path), "-o", str(tmp_path / "seg.mmd"), "--depth", "layer"]) == 0
    dot = (tmp_path / "seg.dot").read_text()
    mmd = (tmp_path / "seg.mmd").read_text()
    for name, t in (("logits", "5x64x64"), ("aux", "5x16x16"), ("kind", "3")):
        assert f"<tr><td><b>{name}</b></td></tr><tr><td>{t}</td></tr>" in dot
        box = next(line.split("(")[0].strip() for line in mmd.splitlines() if f'<b>{name}</b><br/>{t}"' in line)
        assert f'|"{t}"| {box}' in mmd  # an edge ends at it
    assert "→ logits 5x64x64, aux 5x16x16, kind 3" in mmd


def test_onnx_export_names_every_output(seg, tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    path = seg
    out = tmp_path / "seg.onnx"
    assert main(["export", str(path), "-o", str(out), "--dynamic-batch"]) == 0
    assert "max |onnx - eager| = " in capsys.readouterr().out
    assert [o.name for o in onnx.load(str(out)).graph.output] == ["logits", "aux", "kind"]


def test_feature_info_of_a_spec_with_outputs_is_its_listed_maps():
    spec = HEAD + "output from c3, c4, c5\n"
    info = archdsl.feature_info(spec)
    assert (info.channels(), info.reduction(), info.module_name()) == ([8, 16, 32], [2, 4, 8], ["c3", "c4", "c5"])
    model = archdsl.build(spec, features_only=True, out_indices=(2, 0))
    assert [tuple(y.shape) for y in model(torch.randn(1, 3, 32, 32))] == [(1, 32, 4, 4), (1, 8, 16, 16)]
    with pytest.raises(ValueError, match="seg's output `kind` is a flat vector"):
        archdsl.feature_info(SEG)
