"""The fast path, one argument away: build(dtype=, channels_last=, device=, compile=) and the
matching `archdsl compile` flags."""

import pytest
import torch

import archdsl
from archdsl.cli import main
from conftest import spec_path
from test_lowering import TINY

IMAGE = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def same_weights(model, **options):
    """`model`'s spec built again with `options`, holding `model`'s weights."""
    twin = archdsl.build(spec_path("resnet18"), init=False, **options)
    twin.load_state_dict(model.state_dict())
    return twin.eval()


def relative_error(ours, ref) -> float:
    return float((ours.float() - ref).norm() / ref.norm())


@torch.no_grad()
def test_dtype_and_channels_last_apply_to_weights_and_input():
    model = archdsl.build(spec_path("resnet18")).eval()
    expected = model(IMAGE)
    fast = same_weights(model, dtype="bf16", channels_last=True)
    assert fast.conv1.weight.dtype == torch.bfloat16 and fast.bn1.running_var.dtype == torch.bfloat16
    assert fast.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert fast.bn1.num_batches_tracked.dtype == torch.int64
    out = fast(IMAGE)  # an ordinary fp32 NCHW batch goes in
    assert out.dtype == torch.bfloat16
    assert relative_error(out, expected) < 3e-2
    assert "x.to(dtype = dtype, memory_format = torch.channels_last)" in fast.code


@torch.no_grad()
def test_the_input_follows_the_parameters_dtype_after_a_later_conversion():
    fast = archdsl.build(spec_path("resnet18"), dtype="bf16").eval()
    assert "dtype = conv1_weight.dtype" in fast.code
    plain = same_weights(fast.float())  # the bf16-rounded weights, in a model built without a dtype
    assert fast(IMAGE).dtype == torch.float32 and torch.equal(fast(IMAGE), plain(IMAGE))
    assert fast.double()(IMAGE).dtype == torch.float64


@torch.no_grad()
def test_channels_last_alone_keeps_fp32_values():
    model = archdsl.build(spec_path("resnet18")).eval()
    nhwc = same_weights(model, channels_last=True, dtype=torch.float32, device="cpu")
    assert relative_error(nhwc(IMAGE), model(IMAGE)) < 1e-5


def test_compile_takes_a_mode_and_bad_options_fail_first():
    model = archdsl.build(TINY, compile="max-autotune-no-cudagraphs", device="meta")
    assert hasattr(model, "_orig_mod") and model._orig_mod.c1.weight.is_meta
    with pytest.raises(ValueError, match="compile must be"):
        archdsl.build(TINY, compile="fastest")
    with pytest.raises(ValueError, match="dtype must be"):
        archdsl.build(TINY, dtype="int8")
    with pytest.raises(ValueError, match="device must be"):
        archdsl.build(TINY, device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="asks for CUDA, which this torch"):
            archdsl.build(TINY, device="cuda")


def test_cli_emits_the_input_conversion(capsys):
    assert main(["compile", str(spec_path("resnet18")), "--emit", "code", "--dtype", "fp16", "--channels-last"]) == 0
    code = capsys.readouterr().out
    assert "x.to(dtype = dtype, memory_format = torch.channels_last)" in code


def test_cli_refuses_build_flags_with_check(capsys):
    assert main(["compile", str(spec_path("resnet18")), "--check", "--torch-compile"]) == 2
    assert "--check builds no module" in capsys.readouterr().err


def test_cli_torch_compile_compiles_runs_and_compares(tmp_path, capsys):
    spec = tmp_path / "tiny.arch"
    spec.write_text(TINY)
    assert main(["compile", str(spec), "--torch-compile"]) == 0
    ok, report = capsys.readouterr().out.strip().splitlines()
    assert ok.startswith("ok: tiny:")
    assert report.startswith("torch.compile (mode default, cpu): 1 graph(s), 0 graph break(s)")
