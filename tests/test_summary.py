"""`archdsl summary`: figures from the IR alone, held to the built module, torch's own flop
counter, and the figures torchvision publishes; folding of repeated blocks; the JSON form."""

import json
import subprocess
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import archdsl
from archdsl.cli import main
from archdsl.backends.summary.table import summarize, totals
from conftest import ROOT, bundled_specs, spec_path
from test_lowering import TINY

SPECS = bundled_specs()
IDS = [str(p.relative_to(ROOT)) for p in SPECS]

# GMACs at 3x224x224 as torchvision publishes them (its "GFLOPS" column counts multiply-accumulates)
TORCHVISION_GMACS = {"resnet18": 1.814, "resnet50": 4.089, "resnet152": 11.514, "resnext50_32x4d": 4.23,
                     "wide_resnet50_2": 11.398, "densenet121": 2.834}


@pytest.mark.parametrize("path", SPECS, ids=IDS)
def test_params_and_macs_match_the_built_module(path):
    graph = archdsl.load(path)
    ours = totals(graph)
    model = archdsl.build(graph, init=False).eval().to("meta")  # shapes only: counting needs no arithmetic
    assert ours.params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    # the buffers a checkpoint holds: not a constant kept out of the state_dict (Swin's shift masks)
    assert ours.buffers == sum(b.numel() for name, b in model.named_buffers() if name in model.state_dict())
    t = graph.input_type
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, t.channels, t.height, t.width, device="meta"))
    assert ours.macs == pytest.approx(counter.get_total_flops() / 2, rel=0.01)


@pytest.mark.parametrize("name", sorted(TORCHVISION_GMACS))
def test_macs_match_torchvision_published_figures(name):
    summary = summarize(archdsl.load(spec_path(name)))
    assert summary.input == "3x224x224"
    assert summary.totals.macs / 1e9 == pytest.approx(TORCHVISION_GMACS[name], rel=0.01)


def test_stages_fold_into_one_row_at_the_default_depth():
    summary = summarize(archdsl.load(spec_path("resnet50")))
    rows = {r.path: r for r in summary.rows}
    assert summary.depth == 1
    assert [r.path for r in summary.rows] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3",
                                              "layer4", "avgpool", "9", "fc"]
    assert rows["layer3"].op == "bottleneck x6" and rows["layer3"].output == "1024x14x14"
    assert rows["layer1"].op == "bottleneck x3" and rows["layer4"].output == "2048x7x7"


def test_identical_blocks_fold_and_the_first_one_stands_apart():
    summary = summarize(archdsl.load(spec_path("resnet50")), depth=2)
    rows = {r.path: r for r in summary.rows}
    assert rows["layer3.0"].op == "bottleneck" and rows["layer3.0"].repeat == 1
    assert rows["layer3.1..5"].op == "bottleneck x5" and rows["layer3.1..5"].repeat == 5
    assert rows["layer3.0"].params + rows["layer3.1..5"].params == rows["layer3"].params
    assert not any(p.startswith("layer3.0.") for p in rows)
    grouped = {r.path: r for r in summarize(archdsl.load(spec_path("resnext50_32x4d"))).rows}
    assert grouped["layer2"].op == "bottleneck g32 x4"
    squeezed = summarize(archdsl.load("network se\ninput 3x32x32\nstages bottleneck se=16\n"
                                      "  layer1 [2, [[16,1x1],[16,3x3],[64,1x1]]]\n")).rows
    assert squeezed[0].op == "bottleneck se x2"
    basic = {r.path: r for r in summarize(archdsl.load(spec_path("resnet18")), depth=2).rows}
    assert basic["layer1.0..1"].op == "basic x2"  # no projection in layer1: both blocks alike


def test_deeper_levels_show_every_layer_and_no_folds():
    summary = summarize(archdsl.load(spec_path("resnet18")), depth=3)
    paths = [r.path for r in summary.rows]
    assert "layer1.1.conv2" in paths and all(r.repeat == 1 for r in summary.rows)
    leaves = [r for r in summary.rows if r.level == 3]
    stages = [r for r in summary.rows if r.level == 1 and r.path.startswith("layer")]
    assert sum(r.params for r in leaves) == sum(r.params for r in stages)


HAND_WRITTEN = """
network hand
input 3x32x32
c conv 16 3x3 pad=1
scope body
  residual
    conv 16 3x3 pad=1
    bn
  residual
    conv 16 3x3 pad=1
    bn
  residual
    conv 16 3x3 /2 pad=1
    bn
    shortcut
      down conv 16 1x1 /2
global_avgpool
flatten
fc linear 10
"""


def test_hand_written_blocks_fold_only_when_identical():
    rows = {r.path: r for r in summarize(archdsl.load(HAND_WRITTEN), depth=2).rows}
    assert rows["body"].op == "residual x3"
    assert rows["body.0..1"].op == "residual x2"
    assert rows["body.2"].op == "residual"


DENSE_LAYER = """
    concat denselayer{i}
      branch
        identity
      branch
        norm1 bn
        relu1 relu
        conv1 conv 32 1x1
        norm2 bn
        relu2 relu
        conv2 conv 8 3x3 pad=1"""


def dense_spec(layers: int = 4) -> str:
    """A small DenseNet written out by hand: each layer concatenates its input with 8 new channels."""
    body = "".join(DENSE_LAYER.format(i=i) for i in range(1, layers + 1))
    return ("network dense\ninput 3x32x32\nscope features\n  conv0 conv 16 3x3 pad=1\n  scope denseblock1"
            + body + "\nglobal_avgpool\nflatten\nfc linear 10\n")


def test_blocks_fed_growing_widths_still_fold():
    summary = summarize(archdsl.load(dense_spec()), depth=3)
    rows = {r.path: r for r in summary.rows}
    run = rows["features.denseblock1.denselayer1..4"]
    assert run.op == "concat x4" and run.repeat == 4 and run.output == "48x32x32"
    assert rows["features.denseblock1"].op == "concat x4"  # a scope of like blocks reads as a stage
    assert run.params == rows["features.denseblock1"].params


def test_a_mixed_scope_is_described_by_what_it_holds():
    rows = {r.path: r for r in summarize(archdsl.load(spec_path("densenet121")), depth=1).rows}
    # denseblock1..4 hold 6 + 12 + 24 + 16 units; conv0, norm0, relu0, pool0 and norm5 are layers
    assert rows["features"].op == "dense x58, transition x3, 5 layers"


def test_a_small_scope_reads_by_its_ops_and_counts_the_repeated_ones():
    rows = {r.path: r for r in summarize(archdsl.load(spec_path("resnet50d")), depth=3).rows}
    assert rows["conv1"].op == "conv x3, bn x2, relu x2"  # timm's deep stem: three convs, not one
    assert rows["layer1.0.downsample"].op == "conv+bn"
    assert rows["layer2.0.downsample"].op == "avgpool+conv+bn"  # ResNet-D: pool, then project


def test_a_concat_group_holds_its_join_and_ends_with_its_output():
    rows = summarize(archdsl.load(TINY), depth=2).rows  # its `concat mix` joins a conv and a pool
    assert [(r.path, r.op, r.output, r.level) for r in rows if r.path.startswith("mix")] == [
        ("mix", "concat", "12x16x16", 1), ("mix.0", "conv", "4x16x16", 2), ("mix.1", "maxpool", "8x16x16", 2),
        ("mix", "concat", "12x16x16", 2)]


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_rows_account_for_every_parameter_and_mac(depth):
    summary = summarize(archdsl.load(spec_path("resnext50_32x4d")), depth=depth)
    top = [r for r in summary.rows if r.level == 1]
    assert sum(r.params for r in top) == summary.totals.params
    assert sum(r.macs for r in top) == summary.totals.macs
    assert sum(r.other_flops for r in top) == summary.totals.other_flops


def test_other_flops_and_activation_memory():
    t = totals(archdsl.load(spec_path("resnet18")))
    # bn: 2 per element, relu 1, add 1, pools one per window element read, fc bias 1 per output
    assert t.other_flops > 0 and t.other_flops < t.macs / 50
    conv1_out = 64 * 112 * 112 * 4
    assert t.activation_bytes > 3 * conv1_out  # conv1, bn1 and relu each keep a 64x112x112 output
    assert conv1_out < t.peak_activation_bytes < t.activation_bytes


def test_json_has_top_level_params_and_macs(capsys):
    assert main(["summary", str(spec_path("resnet50")), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["params"] == 25_557_032 == sum(r["params"] for r in data["layers"] if r["level"] == 1)
    assert data["macs"] == sum(r["macs"] for r in data["layers"] if r["level"] == 1)
    assert set(data) >= {"network", "input", "output", "params", "buffers", "macs", "other_flops",
                         "activation_bytes", "peak_activation_bytes", "depth", "layers"}
    assert set(data["layers"][0]) == {"path", "op", "output", "params", "macs", "other_flops", "level", "repeat"}
    assert not any("flops" == key for key in data)  # MACs are never called FLOPs


def test_text_table_and_totals(capsys):
    assert main(["summary", str(spec_path("resnet50")), "--depth", "2", "-D", "num_classes=5"]) == 0
    out = capsys.readouterr().out
    assert "layer3.1..5" in out and "bottleneck x5" in out
    assert "23,518,277" in out and "MACs (conv + linear)" in out and "other FLOPs" in out
    assert "activations (fp32)" in out


def test_check_verdict_uses_the_summary_totals(capsys):
    path = str(spec_path("wide_resnet50_2"))
    assert main(["compile", path, "--check"]) == 0
    verdict = capsys.readouterr().out
    t = summarize(archdsl.load(path)).totals
    assert f"{t.params:,} parameters, {t.macs / 1e9:.3f} GMACs" in verdict


def test_a_small_network_s_verdict_reads_in_mega_or_plain_macs(tmp_path, capsys):
    assert main(["compile", str(spec_path("seeds/keras_resnet18_cifar")), "--check"]) == 0
    assert " parameters, 37.0 MMACs at 3x32x32 -> 10 " in capsys.readouterr().out
    tiny = tmp_path / "tiny.arch"
    tiny.write_text("network t\ninput 3x8x8\nconv 4 3x3\n")
    assert main(["compile", str(tiny), "--check"]) == 0
    assert ": 108 parameters, 3,888 MACs at 3x8x8 -> 4x6x6 " in capsys.readouterr().out  # 4x6x6 x 27


def test_errors_in_the_spec_give_diagnostics_and_exit_1(tmp_path, capsys):
    spec = tmp_path / "bad.arch"
    spec.write_text("network t\ninput 3x32x32\nconv 8 3x3 gropus=2\n")
    assert main(["summary", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "error[E0203]" in err and "bad.arch:3:" in err


def test_bad_depth_is_a_usage_error():
    with pytest.raises(SystemExit) as exc:
        main(["summary", str(spec_path("resnet18")), "--depth", "0"])
    assert exc.value.code == 2


def test_summary_does_not_import_torch():
    code = ("import sys; from archdsl.cli import main; rc = main(['summary', %r, '--json']); "
            "print('torch' in sys.modules, rc, file=sys.stderr)" % str(spec_path("resnet50d")))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stderr
    assert out.strip().splitlines()[-1] == "False 0"
