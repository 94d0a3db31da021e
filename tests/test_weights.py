"""Checkpoints: check-weights against the IR without building, build(weights=) loading .pth and
.safetensors, wrappers and prefixes, and a head of another size (timm's classifier convention).
The checkpoint files are written from the reference cards' keys and shapes."""

import json
import subprocess
import sys
import warnings

import pytest
import torch
from safetensors.torch import save_file

import archdsl
from archdsl.cli import main
from archdsl.weights import read_shapes
from cards import _fill_one, card_input, load_card, relative_error
from conftest import ROOT

TINY = ROOT / "tests" / "checkpoints" / "tiny.arch"


def card_state(name: str) -> dict:
    """A state_dict with the card's keys and shapes, filled by the cards' rule."""
    return {key: _fill_one(key, tuple(shape), torch.float32 if not key.endswith("tracked") else torch.int64)
            for key, shape in load_card(name)["state_dict"]}


def test_check_weights_puts_a_wrong_shape_and_a_missing_key_at_their_spec_lines(tmp_path, capsys):
    state = card_state("resnext50_32x4d")
    state["layer2.0.conv2.weight"] = torch.zeros(256, 256, 3, 3)
    del state["layer3.1.bn2.running_var"]
    path = tmp_path / "rx.pth"
    torch.save({"epoch": 9, "state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    assert main(["check-weights", "resnext50_32x4d", str(path), "--format", "json"]) == 1
    found = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(d["code"], d["line"]) for d in found] == [("E0604", 14), ("E0602", 15)]
    assert found[0]["message"] == ("layer2.0.conv2.weight: the checkpoint has 256x256x3x3, line 14 makes "
                                   "256x8x3x3 (groups=32)")
    assert found[1]["message"] == "layer3.1.bn2.running_var: missing from the checkpoint, line 15 makes 512"
    assert found[0]["file"].endswith("specs/resnext50_32x4d.arch")


def test_check_weights_passes_a_checkpoint_of_the_spec(tmp_path, capsys):
    state = card_state("densenet121")
    del state["features.norm0.num_batches_tracked"]  # older torchvision files lack it; BatchNorm fills it in
    save_file(state, str(tmp_path / "d.safetensors"))
    assert main(["check-weights", "densenet121", str(tmp_path / "d.safetensors")]) == 0
    assert capsys.readouterr().out.startswith(f"ok: {tmp_path / 'd.safetensors'}: {len(state):,} tensors match")


def test_check_weights_reads_only_the_safetensors_header_and_no_torch(tmp_path):
    """The tensors' bytes are cut off: the shapes still come from the header, and torch is not imported."""
    data = (ROOT / "tests" / "checkpoints" / "tiny_mixed.safetensors").read_bytes()
    header = 8 + int.from_bytes(data[:8], "little")
    (tmp_path / "cut.safetensors").write_bytes(data[:header])
    code = ("import sys; from archdsl.cli import main; "
            f"rc = main(['check-weights', {str(TINY)!r}, {str(tmp_path / 'cut.safetensors')!r}]); "
            "print(rc, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.split() == ["1", "False"], out.stderr
    assert "conv2.weight: the checkpoint has 16x8x3x3, line 9 makes 16x4x3x3 (groups=2)" in out.stderr
    assert "bn2.running_var: missing from the checkpoint, line 10" in out.stderr
    assert "conv3.weight: the checkpoint has 4x16x1x1, which the spec makes no layer for" in out.stderr


def test_build_loads_a_checkpoint_and_gives_the_cards_logits(tmp_path):
    card = load_card("resnet50")
    torch.save({"model": card_state("resnet50")}, tmp_path / "r50.pth")
    model = archdsl.build("resnet50", weights=tmp_path / "r50.pth", init=False).eval()
    with torch.no_grad():
        out = model(card_input(card["input_shape"], 0))
    assert relative_error(out, card["logits"]) < 1e-4


def test_another_head_keeps_all_but_the_head_and_says_so(tmp_path):
    state = card_state("resnet50")
    torch.save(state, tmp_path / "r50.pth")
    with pytest.warns(UserWarning, match=r"W0403.*fc: the checkpoint's head has 1000 outputs, line 21 makes 10"):
        model = archdsl.build("resnet50", num_classes=10, weights=str(tmp_path / "r50.pth"))
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items() if not k.startswith("fc."))
    assert loaded["fc.weight"].shape == (10, 2048) and not torch.equal(loaded["fc.bias"], state["fc.bias"][:10])


def test_safetensors_and_the_compile_prefix(tmp_path):
    state = {f"_orig_mod.{k}": v for k, v in read_tiny().items()}
    save_file(state, str(tmp_path / "t.safetensors"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = archdsl.build(TINY, weights=tmp_path / "t.safetensors", dtype="bf16")
    assert model.state_dict()["conv2.weight"].dtype == torch.bfloat16
    assert torch.equal(model.state_dict()["bn1.bias"].float(), state["_orig_mod.bn1.bias"])


def read_tiny() -> dict:
    from safetensors.torch import load_file

    state = load_file(str(ROOT / "tests" / "checkpoints" / "tiny_1000_classes.safetensors"))
    state["fc.weight"], state["fc.bias"] = state["fc.weight"][:10], state["fc.bias"][:10]
    return state


def test_a_mismatch_stops_build(tmp_path):
    with pytest.raises(archdsl.ArchError) as caught:
        archdsl.build(TINY, weights=ROOT / "tests" / "checkpoints" / "tiny_mixed.safetensors")
    assert [d.code for d in caught.value.diagnostics] == ["E0603", "E0604", "E0602"]


@pytest.mark.parametrize("write, message", [
    (lambda p: None, "no such checkpoint file"),
    (lambda p: torch.save({"epoch": 3, "lr": 0.1}, p), "holds no state_dict (found: epoch, lr)"),
    (lambda p: torch.save(torch.nn.Linear(2, 2), p), "cannot be read as a checkpoint"),
    (lambda p: p.write_bytes(b"not a checkpoint"), "cannot be read as a checkpoint"),
])
def test_unreadable_checkpoints_are_e0601(tmp_path, capsys, write, message):
    path = tmp_path / "c.pth"
    write(path)
    assert main(["check-weights", str(TINY), str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error[E0601]: ") and message in err and "Traceback" not in err
    with pytest.raises(archdsl.ArchError, match="E0601"):
        archdsl.build(TINY, weights=path)


def test_other_suffixes_and_broken_safetensors_are_e0601(tmp_path, capsys):
    (tmp_path / "w.npz").write_bytes(b"x")
    (tmp_path / "w.safetensors").write_bytes(b"\xff" * 16)
    assert main(["check-weights", str(TINY), str(tmp_path / "w.npz")]) == 1
    assert "is not a checkpoint file this reads" in capsys.readouterr().err
    assert main(["check-weights", str(TINY), str(tmp_path / "w.safetensors")]) == 1
    assert "is not a readable safetensors file" in capsys.readouterr().err
    with pytest.raises(TypeError, match="weights must be the path"):
        archdsl.build(TINY, weights=object())


def test_the_example_checkpoints_are_what_make_writes(tmp_path):
    assert read_shapes(ROOT / "tests" / "checkpoints" / "tiny_1000_classes.safetensors")["fc.weight"] == (1000, 16)
    mixed = read_shapes(ROOT / "tests" / "checkpoints" / "tiny_mixed.safetensors")
    assert mixed["conv2.weight"] == (16, 8, 3, 3) and "bn2.running_var" not in mixed
