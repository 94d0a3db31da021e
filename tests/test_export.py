"""`archdsl export`: bundled families through torch.onnx and onnxruntime, checked against the
reference cards' logits (weights written from the cards' fill), dynamic batch and size, refusals."""

import sys
import json

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

import archdsl
from archdsl.cli import main
from archdsl.export import export_onnx
from cards import card_input, load_card, relative_error
from conftest import ROOT
from test_weights import card_state

TINY = ROOT / "tests" / "checkpoints" / "tiny.arch"


def run_onnx(path, x: torch.Tensor) -> torch.Tensor:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {"input": x.numpy()})[0])


def test_resnet18_with_a_dynamic_batch_gives_the_cards_logits(tmp_path, capsys):
    card = load_card("resnet18")
    torch.save(card_state("resnet18"), tmp_path / "r18.pth")
    out = tmp_path / "r18.onnx"
    assert main(["export", "resnet18", "-o", str(out), "--dynamic-batch", "--weights", str(tmp_path / "r18.pth"),
                 "--input", "3x64x64"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote {out} (ONNX opset ") and "dynamic batch" in printed
    assert float(printed.split("max |onnx - eager| = ")[1].split()[0]) <= 1e-4
    x = card_input(card["input_shape"], 0)  # batch 2; the export ran at batch 2 as well, so also try 3
    assert relative_error(run_onnx(out, x), card["logits"]) < 1e-4
    assert run_onnx(out, torch.cat([x, x[:1]])).shape == (3, 1000)


@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v2"])
def test_export_round_trips_through_onnxruntime_to_the_cards_logits(name, tmp_path, capsys):
    """resnet50 and mobilenet_v2 (densenet121 below, resnet18 above) at the cards' small input."""
    card = load_card(name)
    torch.save(card_state(name), tmp_path / "w.pth")
    out = tmp_path / f"{name}.onnx"
    size = "x".join(map(str, card["input_shape"][1:]))
    assert main(["export", name, "-o", str(out), "--dynamic-batch", "--weights", str(tmp_path / "w.pth"),
                 "--input", size]) == 0
    printed = capsys.readouterr().out
    assert float(printed.split("max |onnx - eager| = ")[1].split()[0]) <= 1e-4
    assert relative_error(run_onnx(out, card_input(card["input_shape"], 0)), card["logits"]) < 1e-4


def test_res2net_with_a_dynamic_size_runs_at_the_cards_odd_size(tmp_path):
    card = load_card("res2net50_26w_4s")
    torch.save(card_state("res2net50_26w_4s"), tmp_path / "w.pth")
    out = tmp_path / "r2.onnx"
    assert main(["export", "res2net50_26w_4s", "-o", str(out), "--dynamic-size", "--weights",
                 str(tmp_path / "w.pth"), "--input", "64"]) == 0
    odd = run_onnx(out, card_input(card["odd_input_shape"], 1))  # 97x97, exported at 64x64
    assert relative_error(odd, card["odd_logits"]) < 1e-4


def test_densenet121_from_python_at_an_asked_opset(tmp_path):
    graph = archdsl.load("densenet121", input_size=64)
    report = export_onnx(archdsl.build(graph), graph, tmp_path / "d.onnx", opset=18, dynamic_batch=False)
    assert report.ok and report.opset == 18 and report.error <= 1e-4 and report.batch == 1
    model = onnx.load(str(tmp_path / "d.onnx"))
    assert [o.version for o in model.opset_import if o.domain == ""] == [18]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [1, 3, 64, 64]


def test_a_size_fixed_network_refuses_a_dynamic_size_at_its_line(tmp_path, capsys):
    spec = ROOT / "tests" / "export" / "same_stride.arch"
    out = tmp_path / "s.onnx"
    assert main(["export", str(spec), "-o", str(out), "--dynamic-size", "--format", "json"]) == 1
    (found,) = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert (found["code"], found["line"], found["column"]) == ("E0702", 3, 1)
    assert not out.exists()
    assert main(["export", str(spec), "-o", str(out), "--dynamic-batch"]) == 0  # a fixed size is fine
    assert run_onnx(out, torch.randn(2, 3, 33, 33)).shape == (2, 8, 17, 17)


def test_the_batch_is_dynamic_by_default_and_static_on_request(tmp_path, capsys):
    """As timm's onnx_export and `compile -o FILE.pt2` do: without a flag, any batch runs."""
    dynamic, static = tmp_path / "dynamic.onnx", tmp_path / "static.onnx"
    assert main(["export", str(TINY), "-o", str(dynamic)]) == 0
    assert "dynamic batch" in capsys.readouterr().out
    graph = archdsl.load(TINY)
    torch.manual_seed(0)
    for batch in (1, 3):
        assert run_onnx(dynamic, torch.randn(batch, *dims_of(graph))).shape == (batch, graph.output_type.channels)
    assert main(["export", str(TINY), "-o", str(static), "--static-batch"]) == 0
    assert "dynamic batch" not in capsys.readouterr().out
    dims = onnx.load(str(static)).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_value == 1
    with pytest.raises(onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument):
        run_onnx(static, torch.randn(2, *dims_of(graph)))
    with pytest.raises(SystemExit) as exited:
        main(["export", str(TINY), "-o", str(static), "--static-batch", "--dynamic-batch"])
    assert exited.value.code == 2


def dims_of(graph) -> tuple[int, int, int]:
    t = graph.input_type
    return t.channels, t.height, t.width


def test_an_opset_the_model_cannot_convert_to_is_refused(tmp_path, capsys):
    out = tmp_path / "t.onnx"
    assert main(["export", str(TINY), "-o", str(out), "--opset", "7"]) == 1
    err = capsys.readouterr().err
    assert "error[E0703]: torch.onnx could not write opset 7" in err and "Traceback" not in err
    assert not out.exists()


def test_missing_onnx_packages_are_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed: importing it fails
    assert main(["export", str(TINY), "-o", str(tmp_path / "t.onnx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error[E0701]: exporting to ONNX needs onnxruntime, which is not installed")
    assert "archdsl[onnx]" in err


def test_the_output_must_be_an_onnx_file(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["export", str(TINY), "-o", "model.pt"])
    assert stopped.value.code == 2 and "expected a file name ending in .onnx" in capsys.readouterr().err
