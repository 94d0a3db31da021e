"""The command line's fit and finish: `-` for standard input, `--input` forms, what `render` and
`compile` say they did, `summary --format json`, `--depth` shared by summary and render, the
label of unnamed rows, layer-type typos in a statement named like its type, Python files."""

import json
import subprocess
import sys

import pytest

from archdsl.cli import main
from conftest import ROOT, spec_path

BROKEN = "network t\ninput 3x32x32\nconv 8 3x3 gropus=2\n"


def run(*args, stdin: str | None = None):
    return subprocess.run([sys.executable, "-m", "archdsl", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, input=stdin)


def test_a_dash_reads_the_spec_from_standard_input():
    result = run("compile", "-", "--check", "-D", "num_classes=5", stdin=spec_path("resnet50").read_text())
    assert result.returncode == 0 and result.stdout.startswith("ok: resnet50: ") and "-> 5 " in result.stdout


def test_a_spec_from_standard_input_is_reported_as_stdin():
    result = run("compile", "-", "--check", stdin=BROKEN)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "error[E0203]: conv has no option `gropus`\n --> <stdin>:3:12" in result.stderr
    assert result.stderr.rstrip().endswith("<stdin>: 1 error, 0 warnings")


def test_a_closed_standard_input_is_e0001():
    code = "import sys; sys.stdin = None; from archdsl.cli import main; sys.exit(main(['summary', '-']))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith("error[E0001]: `-` reads the spec from standard input, which is closed")


@pytest.mark.parametrize("size, says", [
    ("3x224", "error[E0208]: `3x224` reads as height 3 and width 224: a side is missing"),
    ("224x224x3", "= help: sizes are channels x height x width: did you mean `3x224x224`?"),
    ("4x64x64", "= help: only height and width can be changed"),
])
def test_input_sizes_that_misplace_or_miss_a_side_are_errors(size, says, capsys):
    assert main(["compile", str(spec_path("resnet18")), "--check", "--input", size]) == 1
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def test_the_missing_side_help_offers_forms_that_work(capsys):
    assert main(["compile", str(spec_path("resnet18")), "--check", "--input", "3x224"]) == 1
    assert "(`3x224x224`), height x width (`224x224`) or one size for a square (`224`)" in capsys.readouterr().err
    for size in ("3x224x224", "224x224", "224", "160x128", "64x32"):  # every form the help names, and HxW
        assert main(["compile", str(spec_path("resnet18")), "--check", "--input", size]) == 0, size
    out = capsys.readouterr().out
    assert "at 3x160x128 -> " in out and "at 3x64x32 -> " in out


def test_python_takes_the_same_sizes():
    import archdsl

    assert [d.code for d in archdsl.check(spec_path("resnet18"), input_size=(3, 224))] == ["E0208"]
    assert archdsl.check(spec_path("resnet18"), input_size=(224, 160)) == []


def test_render_says_what_it_wrote(tmp_path, capsys):
    out = tmp_path / "r18.dot"
    assert main(["render", str(spec_path("resnet18")), "-o", str(out), "--depth", "stage"]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {out} (DOT, 11 boxes at stage depth, ") and said.endswith(" KiB)\n")
    assert out.read_text().startswith("digraph")


def test_summary_takes_format_json_and_keeps_json_as_its_alias(capsys):
    assert main(["summary", str(spec_path("resnet50")), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["network"] == "resnet50" and data["params"] == 25_557_032
    assert main(["summary", str(spec_path("resnet50")), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == data


def test_summary_json_reports_diagnostics_as_json(tmp_path, capsys):
    spec = tmp_path / "bad.arch"
    spec.write_text(BROKEN)
    for flag in (["--json"], ["--format", "json"]):
        assert main(["summary", str(spec), *flag]) == 1
        (found,) = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        assert (found["code"], found["line"], found["column"]) == ("E0203", 3, 12)


@pytest.mark.parametrize("depth, rows, boxes", [
    ("stage", ["layer1", "layer2"], 11),
    ("block", ["layer1", "layer1.0..1", "layer2", "layer2.0", "layer2.1"], 14),
    ("1", ["layer1", "layer2"], 11),
    ("2", ["layer1", "layer1.0..1", "layer2", "layer2.0", "layer2.1"], 14),
])
def test_depth_means_the_same_in_summary_and_render(depth, rows, boxes, tmp_path, capsys):
    assert main(["summary", str(spec_path("resnet18")), "--json", "--depth", depth]) == 0
    paths = [row["path"] for row in json.loads(capsys.readouterr().out)["layers"]]
    assert [p for p in paths if p.startswith(("layer1", "layer2"))] == rows
    out = tmp_path / "r.dot"
    assert main(["render", str(spec_path("resnet18")), "-o", str(out), "--depth", depth]) == 0
    assert f"(DOT, {boxes} boxes at " in capsys.readouterr().out


def test_layer_depth_lists_every_layer_in_the_summary(capsys):
    assert main(["summary", str(spec_path("resnet18")), "--json", "--depth", "layer"]) == 0
    paths = [row["path"] for row in json.loads(capsys.readouterr().out)["layers"]]
    assert "layer4.1.conv2" in paths and "layer2.0.downsample.0" in paths


@pytest.mark.parametrize("command", [["summary"], ["render", "-o", "r.dot"]], ids=["summary", "render"])
@pytest.mark.parametrize("depth", ["0", "blok", "-1"])
def test_a_bad_depth_is_a_usage_error_in_both(command, depth, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([*command, str(spec_path("resnet18")), f"--depth={depth}"])
    assert stopped.value.code == 2
    assert "expected stage, block, layer or a whole number from 1 up" in capsys.readouterr().err


def test_an_unnamed_row_reads_as_its_op_and_position(capsys):
    assert main(["summary", str(spec_path("resnet50"))]) == 0
    rows = {line.split("  ")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "flatten (9)" in rows and "9" not in rows
    assert rows["flatten (9)"].split()[2:4] == ["flatten", "2048"]
    assert main(["summary", str(spec_path("resnet50")), "--json"]) == 0  # the module path stays the position
    layers = json.loads(capsys.readouterr().out)["layers"]
    assert [(r["path"], r["op"]) for r in layers if r["op"] == "flatten"] == [("9", "flatten")]


def test_a_run_of_unnamed_blocks_is_labelled_with_its_positions():
    from archdsl import load
    from archdsl.backends.summary.table import render_text, summarize

    spec = "network t\ninput 4x8x8\nscope\n  conv 4 3x3 pad=1\n  bn\nscope\n  conv 4 3x3 pad=1\n  bn\nflatten\n"
    table = render_text(summarize(load(spec), 1))
    assert "\nconv+bn (0..1)  " in table and "\nflatten (2)  " in table


@pytest.mark.parametrize("line, word, hint", [
    ("relu rellu", "rellu", "did you mean `relu`?"),
    ("avgpool global_avg_pool", "global_avg_pool", "archdsl writes `global_avg_pool` as `global_avgpool`"),
    ("avgpool AvgPool2d", "AvgPool2d", "archdsl writes `AvgPool2d` as `avgpool`"),
])
def test_a_misspelt_type_after_a_name_like_a_type_gets_did_you_mean(line, word, hint):
    import archdsl

    spec = f"network t\ninput 3x32x32\nconv1 conv 8 3x3\n{line}\nflatten\n"
    (found,) = archdsl.check(spec)
    assert (found.code, found.message, found.help) == ("E0201", f"unknown layer type `{word}`", hint)
    assert (found.span.line, found.span.col) == (4, line.index(word) + 1)
    named = archdsl.check(spec.replace(line, "x " + line.split()[1]))  # as it is said with another name
    assert [(d.code, d.message, d.help) for d in named] == [(found.code, found.message, found.help)]


def test_a_word_that_is_a_value_after_a_layer_type_is_left_to_the_layer():
    import archdsl

    spec = "network t\ninput 3x32x32\nparam conv2 = 8\nparam width = 8\nconv conv2 3x3\nconv widht 3x3\n"
    (found,) = archdsl.check(spec)  # conv2 is a parameter: no complaint; widht is one misspelt
    assert (found.code, found.message, found.help) == ("E0205", "unknown parameter `widht`", "did you mean `width`?")


@pytest.mark.parametrize("text", ["x = 1\n", "model = nn.Sequential(nn.Conv2d(3, 8, 3))\n"])
def test_a_py_file_that_does_not_check_is_said_to_be_python(text, tmp_path, capsys):
    path = tmp_path / "net.py"
    path.write_text(text)
    assert main(["compile", str(path), "--check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error[E0007]: this looks like Python, not a spec\n --> {path}:1:1\n")
    assert err.count("error[") == 1 and "archdsl.build(" in err


def test_a_python_line_marks_python_whatever_the_name(tmp_path, capsys):
    path = tmp_path / "net.arch"
    path.write_text("# my network\n\nfrom torchvision.models import resnet50\nmodel = resnet50()\n")
    assert main(["compile", str(path), "--check", "--format", "json"]) == 1
    (found,) = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert (found["code"], found["line"], found["label"]) == ("E0007", 3, "Python")


def test_a_spec_named_py_that_checks_is_a_spec(tmp_path, capsys):
    path = tmp_path / "net.py"
    path.write_text("network t\ninput 3x8x8\nconv 4 3x3\n")
    assert main(["compile", str(path), "--check"]) == 0


WITHOUT_TORCH = ("import sys; sys.modules['torch'] = None\n"  # as if torch were not installed: importing it fails
                 "from archdsl.cli import main\n"
                 "sys.exit(main(sys.argv[1:]))")


@pytest.mark.parametrize("command, what", [
    (["compile", "specs/resnet18.arch"], "building a module"),
    (["export", "specs/resnet18.arch", "-o", "never.onnx"], "exporting to ONNX"),
])
def test_without_torch_the_diagnostic_is_json_under_format_json(command, what, tmp_path):
    import jsonschema

    result = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, *command, "--format", "json"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    (found,) = [json.loads(line) for line in result.stderr.splitlines()]  # nothing but JSON on stderr
    jsonschema.validate(found, json.loads((ROOT / "docs" / "diagnostic.schema.json").read_text()))
    assert (found["code"], found["message"]) == ("E0006", f"{what} needs PyTorch, which is not installed")
    assert "pip install torch" in found["help"]
    assert not (ROOT / "never.onnx").exists()


TINY = ROOT / "tests" / "checkpoints" / "tiny.arch"


def test_compile_without_check_says_what_it_built_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["compile", str(TINY)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ok: tiny: ") and len(out) == 2
    assert out[1].startswith("built a torch module: 5 submodules (0 stages, blocks and scopes with forwards of their own)")
    assert "nothing was written: -o FILE.pt2 saves it with torch.export" in out[1]
    assert list(tmp_path.iterdir()) == []


def test_compile_o_saves_a_torch_export_program_of_the_spec(tmp_path, capsys):
    import torch

    import archdsl

    out = tmp_path / "tiny.pt2"
    assert main(["compile", str(TINY), "-o", str(out), "-D", "num_classes=5", "--input", "48"]) == 0
    said = capsys.readouterr().out.splitlines()[-1]
    assert said.startswith(f"wrote {out} (torch.export program of tiny: input Nx3x48x48 for any batch N, ")
    program = torch.export.load(out)
    model = archdsl.build(TINY, num_classes=5).eval()
    model.load_state_dict(program.state_dict)  # the spec's keys, every one
    x = torch.randn(3, 3, 48, 48)  # another batch than the example's
    with torch.no_grad():
        assert torch.allclose(program.module()(x), model(x), atol=1e-5)


@pytest.mark.parametrize("flags, says", [
    (["--check"], "--check builds no module; -o needs one (drop --check)"),
    (["--emit", "ir"], "--emit ir builds no module; -o needs one"),
    (["--emit", "code"], "--emit code prints the module; -o saves it (use one or the other)"),
    (["--torch-compile"], "--torch-compile runs the module; -o saves it (use one or the other)"),
])
def test_o_with_a_flag_that_does_something_else_is_a_usage_error(flags, says, tmp_path, capsys):
    assert main(["compile", str(TINY), "-o", str(tmp_path / "t.pt2"), *flags]) == 2
    assert capsys.readouterr().err.startswith(f"error: {says}")
    assert not (tmp_path / "t.pt2").exists()


def test_o_names_a_pt2_file_in_a_folder_that_exists(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["compile", str(TINY), "-o", str(tmp_path / "t.onnx")])
    assert stopped.value.code == 2 and "expected a file name ending in .pt2" in capsys.readouterr().err
    assert main(["compile", str(TINY), "-o", str(tmp_path / "missing" / "t.pt2")]) == 1
    assert "error[E0004]: cannot write" in capsys.readouterr().err
