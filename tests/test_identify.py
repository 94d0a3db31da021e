"""`archdsl check-weights` on a checkpoint of another network: the first line says how little
matches and which network it fits (searched among the bundled ones and ARCHDSL_PATH by key and
shape); `check-weights FILE` alone names it. The checkpoints are made from bundled specs
(build + state_dict), mobilenet_v2 at a small input (its state does not depend on the size)."""

import json
import shutil

import pytest
import torch

import archdsl
from archdsl.cli import main
from archdsl.identify import fit, identify, state_shapes
from conftest import ROOT

TINY = ROOT / "tests" / "checkpoints" / "tiny.arch"


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "mobilenet_v2.pth"
    torch.save(archdsl.build("mobilenet_v2", input_size=64).state_dict(), path)
    return path


def run(argv, capsys) -> tuple[int, str, str]:
    status = main([str(word) for word in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_another_networks_checkpoint_says_what_it_fits_first(mobilenet, capsys):
    status, out, err = run(["check-weights", "resnet50", mobilenet], capsys)
    assert status == 1 and out == ""
    lines = err.splitlines()
    assert lines[0] == "error[E0605]: 0 of 320 tensors match; this checkpoint fits `mobilenet_v2` (314 of 314)"
    shown = [line for line in lines if line.startswith("error[E060") and "E0605" not in line]
    assert len(shown) == 10  # capped, with the rest counted
    assert "... and 571 more" in err and lines[-1] == "resnet50: 582 errors, 0 warnings"


def test_json_keeps_every_difference_after_the_headline(mobilenet, capsys):
    status, _, err = run(["check-weights", "resnet50", mobilenet, "--format", "json"], capsys)
    found = [json.loads(line) for line in err.splitlines()]
    assert status == 1 and len(found) == 582
    assert found[0]["code"] == "E0605" and "fits `mobilenet_v2` (314 of 314)" in found[0]["message"]
    assert {d["code"] for d in found[1:]} == {"E0602", "E0603"}


def test_a_checkpoint_alone_is_named(mobilenet, capsys):
    status, out, err = run(["check-weights", mobilenet], capsys)
    assert (status, err) == (0, "")
    assert out == f"ok: {mobilenet}: 314 tensors; this checkpoint fits `mobilenet_v2` (314 of 314)\n"


def test_a_checkpoint_of_no_known_network_says_so(capsys):
    mixed = ROOT / "tests" / "checkpoints" / "tiny_mixed.safetensors"
    status, out, err = run(["check-weights", mixed], capsys)
    assert status == 1 and out == ""
    assert err.startswith("error[E0605]: ") and "no network archdsl can name fits this checkpoint" in err


def test_a_checkpoint_near_one_network_names_it_as_the_nearest(mobilenet, tmp_path, capsys):
    state = torch.load(mobilenet, weights_only=True)
    del state["classifier.1.weight"], state["classifier.1.bias"]
    torch.save(state, tmp_path / "headless.pth")
    status, _, err = run(["check-weights", tmp_path / "headless.pth"], capsys)
    assert status == 1 and err.startswith("error[E0605]: 312 tensors; no network archdsl can name fits this "
                                          "checkpoint; the nearest is `mobilenet_v2` (312 of 314)\n")


def test_networks_on_archdsl_path_are_searched_too(tmp_path, monkeypatch, capsys):
    shutil.copy(TINY, tmp_path / "tiny.arch")
    (tmp_path / "models.txt").write_text("tiny_1000  tiny.arch  mine:tiny  num_classes=1000\n")
    monkeypatch.setenv("ARCHDSL_PATH", str(tmp_path))
    checkpoint = ROOT / "tests" / "checkpoints" / "tiny_1000_classes.safetensors"
    status, out, _ = run(["check-weights", checkpoint], capsys)
    assert status == 0 and out.endswith("this checkpoint fits `tiny_1000` (14 of 14)\n"), out


def test_a_near_checkpoint_gets_no_search():
    """A fine-tuned head or a few renamed keys: most tensors match, so no headline (and no search)."""
    graph = archdsl.load("resnet18")
    theirs = state_shapes(graph)
    theirs["layer4.1.conv2.weight"] = (1, 1, 1, 1)
    here = fit("resnet18", state_shapes(graph), theirs)
    assert (here.matched, here.total, here.exact) == (121, 122, False)
    from archdsl.commands.weights import another_network

    assert another_network(graph, theirs) is None


def test_the_search_finds_a_variant_of_a_family_spec():
    """regnet.arch serves sixteen names; the one whose state it is fits, and nothing else is returned."""
    (found,) = identify(state_shapes(archdsl.load("regnet_x_800mf")))
    assert found.name == "regnet_x_800mf" and found.exact
