"""Networks by name: the bundled registry, variants of a family spec, ARCHDSL_PATH, list and show."""

import ast

import pytest

import archdsl
from archdsl import zoo
from archdsl.cli import main
from conftest import ROOT, bundled_specs

FAMILY = """\
network tiny
input 3x32x32
param width = 8
param num_classes = 10
conv1 conv width 3x3 pad=1
relu1 relu
avgpool global_avgpool
flatten
fc linear num_classes
"""


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    """A user's folder on ARCHDSL_PATH: a family spec with two variants, a plain spec, a bad line."""
    (tmp_path / "tiny.arch").write_text(FAMILY)
    (tmp_path / "plain_net.arch").write_text(FAMILY.replace("network tiny", "network plain_net"))
    (tmp_path / "models.txt").write_text(
        "# my networks\n"
        "tiny_w16  tiny.arch  mine:tiny  width=16  input=3x48x48\n"
        "tiny_w4   tiny.arch  mine:tiny  width=4   # narrow\n"
        "broken    tiny.arch\n")
    monkeypatch.setenv("ARCHDSL_PATH", str(tmp_path))
    return tmp_path


def test_every_bundled_spec_has_a_name_and_a_source():
    found = zoo.models()
    named = {model.path.resolve() for model in found.values()}
    assert named == {path.resolve() for path in bundled_specs()}
    assert all(model.source != "-" for model in found.values() if model.path.parent.name == "specs")
    assert zoo.problems() == []


def test_list_models_takes_a_wildcard_and_sorts_numbers_as_numbers():
    assert archdsl.list_models("densenet*") == ["densenet121", "densenet161", "densenet169", "densenet201"]
    assert archdsl.list_models("resnet1*") == ["resnet18", "resnet101", "resnet152"]
    assert archdsl.list_models("nothing*") == []


def test_a_name_loads_like_its_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    graph = archdsl.load("resnet18", num_classes=7)
    assert graph.source.name == str(ROOT / "specs" / "resnet18.arch")
    assert graph.output_type.channels == 7 and graph.overrides == {"num_classes": 7}
    assert archdsl.check("resnet18") == []


def test_a_path_that_exists_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet18").write_text(FAMILY)
    assert archdsl.load("resnet18").name == "tiny"


def test_a_misspelt_name_gets_a_near_name():
    with pytest.raises(archdsl.ArchError) as caught:
        archdsl.load("resnet5")
    (d,) = caught.value.diagnostics
    assert d.code == "E0001" and d.message == "no such file or bundled network: `resnet5`"
    assert d.help == "did you mean `resnet50`?"


def test_a_variant_maps_to_its_family_spec_with_its_parameters(user_folder):
    model = zoo.find("tiny_w16")
    assert model.path == user_folder / "tiny.arch" and model.params == {"width": "16"} and model.input == "3x48x48"
    graph = archdsl.load("tiny_w16")
    assert graph.input_type.height == 48 and graph.overrides["width"] == 16
    assert [e.shape for e in archdsl.ir.state.state_entries(graph)][0] == (16, 3, 3, 3)
    narrow = archdsl.load("tiny_w4", input_size=40, width=6)  # the caller's values win
    assert narrow.overrides["width"] == 6 and narrow.input_type.height == 40
    # a file the registry names is known by those names only; an unnamed one by its file name
    assert "plain_net" in archdsl.list_models() and "tiny" not in archdsl.list_models()
    assert zoo.problems() == [f"{user_folder / 'models.txt'}:4: expected NAME SPEC SOURCE [PARAM=VALUE ...] "
                              "[input=CxHxW]"]


def test_user_folders_come_before_the_bundled_ones(user_folder):
    (user_folder / "resnet18.arch").write_text(FAMILY.replace("network tiny", "network mine"))
    assert archdsl.load("resnet18").name == "mine"


def test_list_prints_size_input_and_source(user_folder, capsys):
    assert main(["list", "tiny*"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["name", "parameters", "MACs", "input", "source"]
    w16 = lines[2].split()
    # conv 16x3x3x3 (432) + fc 10x16 + 10 = 602 parameters
    assert w16[0] == "tiny_w16" and w16[1] == "602" and w16[4] == "3x48x48" and w16[5] == "mine:tiny"
    assert [line.split()[0] for line in lines[1:]] == ["tiny_w4", "tiny_w16"]
    assert "models.txt:4:" in err
    assert main(["list", "zzz*"]) == 1
    assert "no network matches" in capsys.readouterr().err


def test_show_prints_the_spec_and_what_a_variant_sets(user_folder, capsys):
    assert main(["show", "resnet50"]) == 0
    assert capsys.readouterr().out == (ROOT / "specs" / "resnet50.arch").read_text()
    assert main(["show", "tiny_w16"]) == 0
    out = capsys.readouterr().out
    assert out == "# tiny_w16: tiny.arch with -D width=16 --input 3x48x48\n" + FAMILY
    assert main(["show", "resnet5"]) == 1
    assert "did you mean `resnet50`?" in capsys.readouterr().err


def test_commands_take_a_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "resnet50", "--check", "-D", "num_classes=3"]) == 0
    assert capsys.readouterr().out.startswith("ok: resnet50: 23,514,179 parameters")
    assert main(["summary", "densenet121"]) == 0


def test_build_options_import_no_circle():
    """archdsl.api imports the torch back end's options (lazily); they take their names from
    archdsl.options, so they import nothing from archdsl.api (issue 13)."""
    tree = ast.parse((ROOT / "compiler" / "torch" / "options.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "archdsl.options" in imported and "archdsl.api" not in imported
