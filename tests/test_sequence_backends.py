"""Every back end on token sequences (issue 24 part 5): the summary's N x C rows and attention MACs,
`--emit ir`, diagrams, the ONNX export and the `.pt2` export of vit_b_16 and swin_t.

The exports run at a reduced size to stay fast: vit_b_16 with a narrow, two-layer encoder at 64x64
(its position embedding follows the input's size, so one size per build), swin_t with a width of
24 at 64x64 (its stages at 16, 8, 4 and 2: windows padded, the shift clamped where one window
covers the map). The layout, the ops and the names are the full networks'."""

import json

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import archdsl
from archdsl.cli import main

onnxruntime = pytest.importorskip("onnxruntime")

VIT = ["vit_b_16", "-D", "hidden=64", "-D", "layers=2", "-D", "heads=2", "-D", "mlp_dim=128", "--input", "3x64x64"]
SWIN = ["swin_t", "-D", "embed=24", "-D", "d3=2", "--input", "3x64x64"]
SMALL = {"vit_b_16": dict(hidden=64, layers=2, heads=2, mlp_dim=128), "swin_t": dict(embed=24, d3=2)}


def small(name):
    return archdsl.build(name, input_size=(3, 64, 64), **SMALL[name]).eval()


def test_summary_shows_token_shapes_and_the_attentions_macs(capsys):
    assert main(["summary", "vit_b_16", "--depth", "4", "--format", "json"]) == 0
    rows = {row["path"]: row for row in json.loads(capsys.readouterr().out)["layers"]}
    assert rows["tokens"]["output"] == "197x768 (n c)"  # the class token and 14 x 14 patches
    attention = rows["encoder.layers.encoder_layer_0.self_attention"]
    n, c = 197, 768
    # q, k, v and the output projection (4 n c^2), then q k^T and the weights times v (2 n^2 c)
    assert (attention["op"], attention["output"]) == ("attention", "197x768 (n c)")
    assert attention["macs"] == 4 * n * c * c + 2 * n * n * c == 524_391_936
    layer = torch.nn.MultiheadAttention(c, 12, batch_first=True, device="meta")
    x = torch.zeros(1, n, c, device="meta")
    with FlopCounterMode(display=False) as counter:  # torch's own count of the module torchvision uses
        layer(x, x, x, need_weights=False)
    assert attention["macs"] == counter.get_total_flops() // 2
    assert attention["params"] == 4 * c * c + 4 * c
    assert [row["output"] for row in rows.values() if row["op"] == "select"] == ["768"]  # the class token


def test_summary_text_prints_n_by_c(capsys):
    assert main(["summary", "vit_b_16", "--depth", "4"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith(
        "encoder.layers.encoder_layer_0.self_attention"))
    assert line.split()[1:5] == ["attention", "197x768", "(n", "c)"] and line.split()[-1] == "524.4M"


def test_emit_ir_prints_the_axes(capsys):
    assert main(["compile", *SWIN, "--emit", "ir"]) == 0
    ir = capsys.readouterr().out
    assert "rearrange(%" in ir and "pattern=c h w -> h w c" in ir
    assert "attention" not in ir  # swin writes its attention out: matmul, softmax, position bias
    assert ": 16x16x24 (h w c)" in ir and "matmul(" in ir and "position_bias(" in ir
    assert "pad(" in ir and "crop(" in ir  # 16 is not whole windows of 7: padded to 21 and cropped back


def test_diagrams_draw_sequences(tmp_path, capsys):
    out = tmp_path / "vit.mmd"
    assert main(["render", *VIT, "-o", str(out), "--depth", "5"]) == 0
    text = out.read_text()
    assert "<b>self_attention</b><br/>attention" in text
    assert 'encoder_layer_0..1 · encoder_block x2' in text  # the repeated encoder blocks folded, as residual ones
    assert '-->|"17x64 (n c)"|' in text  # the edges carry the sequence: 16 patches and the class token


def test_swin_onnx_export_runs_in_onnxruntime(tmp_path, capsys):
    """torch.roll, the padding and the crop, the windows' rearranges and the shift mask all export."""
    out = tmp_path / "swin.onnx"
    assert main(["export", *SWIN, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert float(printed.split("max |onnx - eager| = ")[1].split()[0]) <= 1e-4
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    y = session.run(None, {"input": np.random.default_rng(0).standard_normal((1, 3, 64, 64), np.float32)})[0]
    assert y.shape == (1, 1000) and np.isfinite(y).all()


def test_vit_onnx_export_with_a_dynamic_batch_equals_eager_with_the_same_weights(tmp_path, capsys):
    """nn.MultiheadAttention, the class token expanded to the batch and the select export."""
    model = small("vit_b_16")
    torch.manual_seed(0)
    state = {k: torch.randn_like(v) * 0.1 for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    torch.save(state, tmp_path / "w.pth")
    out = tmp_path / "v.onnx"
    assert main(["export", *VIT, "-o", str(out), "--weights", str(tmp_path / "w.pth"), "--dynamic-batch"]) == 0
    x = torch.randn(3, 3, 64, 64)  # the export ran at batch 2
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        eager = model(x)
    ours = torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
    assert (ours - eager).abs().max() <= 1e-4 * eager.abs().max()


@pytest.mark.parametrize("name, args, line", [("vit_b_16", VIT, 28), ("swin_t", SWIN, 27)])
def test_a_dynamic_size_is_refused_where_a_pattern_fixes_the_size(name, args, line, tmp_path, capsys):
    """ViT's patches become 16 tokens (the position embedding has 17 rows); Swin pads 16 to 21."""
    out = tmp_path / "d.onnx"
    assert main(["export", *args, "-o", str(out), "--dynamic-size", "--format", "json"]) == 1
    (found,) = [json.loads(x) for x in capsys.readouterr().err.splitlines()]
    assert (found["code"], found["line"]) == ("E0702", line) and "holds sizes" in found["label"]
    assert not out.exists()


def test_a_map_block_of_any_size_still_exports_a_dynamic_size(tmp_path):
    """A pattern that keeps the map's sizes apart from the reshape (a global response norm's
    per-channel norms) does not fix the size."""
    spec = tmp_path / "g.arch"
    spec.write_text('network g\ninput 4x8x8\nf conv 8 3x3 pad=1\ngx reduce l2 "c h w -> c h=() w=()"\n'
                    'mul from f, gx\n')
    out = tmp_path / "g.onnx"
    assert main(["export", str(spec), "-o", str(out), "--dynamic-size"]) == 0
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    y = session.run(None, {"input": np.zeros((1, 4, 12, 10), np.float32)})[0]
    assert y.shape == (1, 8, 12, 10)


@pytest.mark.parametrize("name, args", [("vit_b_16", VIT), ("swin_t", SWIN)])
def test_pt2_export_loads_and_equals_eager(name, args, tmp_path, capsys):
    out = tmp_path / f"{name}.pt2"
    assert main(["compile", *args, "-o", str(out)]) == 0
    assert "for any batch N" in capsys.readouterr().out
    program = torch.export.load(str(out)).module()
    model = small(name)
    model.load_state_dict(program.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(program(x), model(x), atol=1e-5)
