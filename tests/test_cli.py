"""The command line: exit codes, where output goes, and that checking never imports torch."""

import json
import re
import subprocess
import sys

import pytest

from archdsl.cli import main
from conftest import ROOT, spec_path

BROKEN = "network t\ninput 3x32x32\nconv 8 3x3 gropus=2\nbn1 bnn\n"
UNUSED = "network t\ninput 3x32x32\na conv 8 3x3 pad=1\nb conv 8 3x3 pad=1\nc relu from a\n"


def run(*args):
    return subprocess.run([sys.executable, "-m", "archdsl", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_check_prints_one_line_verdict_with_size(capsys):
    assert main(["compile", str(spec_path("resnext50_32x4d")), "--check"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert out[0].startswith("ok: resnext50_32x4d: 25,028,904 parameters, 4.230 GMACs at 3x224x224 -> 1000")


def test_check_does_not_import_torch():
    code = ("import sys; from archdsl.cli import main; rc = main(['compile', %r, '--check']); "
            "print('torch' in sys.modules, rc)" % str(spec_path("resnext50_32x4d")))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert out.strip().splitlines()[-1] == "False 0"


def test_defines_and_input_size(capsys):
    assert main(["compile", str(spec_path("resnet50")), "--check", "-D", "num_classes=5",
                 "--input", "3x160x160"]) == 0
    assert "at 3x160x160 -> 5 " in capsys.readouterr().out


def test_errors_exit_1_with_rendered_diagnostics(tmp_path, capsys):
    spec = tmp_path / "broken.arch"
    spec.write_text(BROKEN)
    assert main(["compile", str(spec), "--check"]) == 1
    err = capsys.readouterr().err
    assert f"error[E0203]: conv has no option `gropus`\n --> {spec}:3:12" in err
    assert "= help: did you mean `groups`?" in err
    assert "error[E0201]: unknown layer type `bnn`" in err
    assert err.rstrip().endswith("2 errors, 0 warnings")


def test_json_format(tmp_path, capsys):
    spec = tmp_path / "broken.arch"
    spec.write_text(BROKEN)
    assert main(["compile", str(spec), "--check", "--format", "json"]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(d["code"], d["line"], d["column"]) for d in lines] == [("E0203", 3, 12), ("E0201", 4, 5)]


def test_warnings_pass_unless_strict(tmp_path, capsys):
    spec = tmp_path / "unused.arch"
    spec.write_text(UNUSED)
    assert main(["compile", str(spec), "--check"]) == 0
    assert "warning[W0401]" in capsys.readouterr().err
    assert main(["compile", str(spec), "--check", "--strict"]) == 1


def test_unknown_define_is_an_error(capsys):
    assert main(["compile", str(spec_path("resnet18")), "--check", "-D", "num_clases=3"]) == 1
    assert "did you mean `num_classes`?" in capsys.readouterr().err


@pytest.mark.parametrize("path", ["no/such/file.arch", "docs"])  # docs/ holds no .arch file
def test_missing_files_and_directories(path, capsys):
    assert main(["compile", path, "--check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error[E0001]") and "Traceback" not in err


@pytest.mark.parametrize("path, hint", [
    ("resnet50.arch", "did you mean `specs/resnet50.arch`?"),  # run from the project root
    ("specs/resnet5.arch", "did you mean `specs/resnet50.arch`?"),
    ("no/such/file.arch", "there is no folder `no/such`"),
])
def test_a_missing_file_gets_the_likely_one(path, hint, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["compile", path, "--check"]) == 1
    assert f"= help: {hint}" in capsys.readouterr().err


def test_no_command_prints_the_commands_and_exits_2():
    result = run()
    assert result.returncode == 2 and "compile" in result.stderr and "explain" in result.stderr


def test_version():
    from archdsl import __version__

    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"archdsl {__version__}"


def test_bad_usage_exits_2():
    result = run("compile", spec_path("resnet18"), "-D", "no-equals-sign")
    assert result.returncode == 2 and "NAME=VALUE" in result.stderr


@pytest.mark.parametrize("argv, says", [
    (["compile", "SPEC", "--check", "--format", "json", "--bad-flag"], "unrecognized arguments: --bad-flag"),
    (["summary", "SPEC", "--json", "--depth", "0"], "argument --depth: expected stage, block, layer"),
    (["export", "SPEC", "--format=json"], "the following arguments are required: -o/--output"),
    (["compile", "SPEC", "--format", "json", "-D", "a=1", "-D", "a=2"], "a is given twice"),
    (["compile", "SPEC", "--format", "json", "--check", "--dtype", "bf16"], "--check builds no module"),
])
def test_a_usage_error_under_json_is_json(argv, says, capsys):
    argv = [str(spec_path("resnet18")) if word == "SPEC" else word for word in argv]
    try:
        status = main(argv)
    except SystemExit as exited:
        status = exited.code
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    found = json.loads(line)
    assert status == 2 and captured.out == ""
    assert found["code"] == "E0010" and found["severity"] == "error" and says in found["message"]
    assert found["file"] is None and "--help" in found["help"]


def test_a_usage_error_in_text_is_argparse_s(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["compile", str(spec_path("resnet18")), "--check", "--bad-flag"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.startswith("usage: archdsl ")
    assert err.endswith("archdsl: error: unrecognized arguments: --bad-flag\n")


def test_emit_ir_and_code(capsys):
    assert main(["compile", str(spec_path("resnet18")), "--emit", "ir"]) == 0
    ir = capsys.readouterr().out
    assert ir.startswith("network resnet18 input 3x224x224") and "@layer4.1.bn2 : 512x7x7" in ir
    assert main(["compile", str(spec_path("resnet18")), "--emit", "code"]) == 0
    assert "def forward(self, x):" in capsys.readouterr().out


def test_python_dash_m_entry_point():
    result = run("compile", spec_path("resnet18"), "--check")
    assert result.returncode == 0 and result.stdout.startswith("ok: resnet18:")


def test_every_error_in_one_run_in_source_order_capped(tmp_path, capsys):
    lines = ["network t", "input 3x32x32"] + [f"c{i} conv 8 3x3 pad=1 gropus=2" for i in range(60)]
    spec = tmp_path / "many.arch"
    spec.write_text("\n".join(lines) + "\n")
    assert main(["compile", str(spec), "--check"]) == 1
    err = capsys.readouterr().err
    places = [int(m) for m in re.findall(r"--> .*many\.arch:(\d+):", err)]
    assert places == list(range(3, 53))
    assert "\n... and 10 more\n" in err and err.rstrip().endswith("many.arch: 60 errors, 0 warnings")


def test_syntax_errors_on_several_lines_are_all_reported(tmp_path, capsys):
    spec = tmp_path / "syntax.arch"
    spec.write_text("network t\ninput 3x32x32\nconv 8 3x3 pad=\nrelu\nconv 8 3x3 = 4\nbn\nconv 8 3×3\n")
    assert main(["compile", str(spec), "--check"]) == 1
    err = capsys.readouterr().err
    assert re.findall(r"error\[(E\d+)\]", err) == ["E0102", "E0102", "E0101"]
    assert [int(n) for n in re.findall(r"syntax\.arch:(\d+):", err)] == [3, 5, 7]


def test_color_always_paints_the_same_words(tmp_path, capsys):
    spec = tmp_path / "broken.arch"
    # an escape sequence in the spec's text must not reach the terminal, painted or not
    spec.write_text(BROKEN.replace("gropus=2", "gropus=2  # \x1b[31m red"))
    assert main(["compile", str(spec), "--check", "--color", "never"]) == 1
    plain = capsys.readouterr().err
    assert main(["compile", str(spec), "--check", "--color", "always"]) == 1
    painted = capsys.readouterr().err
    assert "\x1b[1;31merror[E0203]\x1b[0m" in painted and "\x1b" not in plain
    assert re.sub(r"\x1b\[[0-9;]*m", "", painted) == plain
    assert "\x1b[31m" not in painted and "\u241b" in plain


def test_color_auto_is_off_when_stderr_is_not_a_terminal():
    result = run("compile", "--check", "--color", "auto", spec_path("resnet18"), "-D", "num_classes=x")
    assert result.returncode == 1 and "\x1b" not in result.stderr


def test_building_without_torch_says_how_to_get_it():
    code = ("import sys; sys.modules['torch'] = None\n"  # as if torch were not installed
            "from archdsl.cli import main\n"
            "sys.exit(main(['compile', 'specs/resnet18.arch']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr and "E9999" not in result.stderr
    assert result.stderr.startswith("error[E0006]: building a module needs PyTorch") and "pip install torch" in result.stderr


SWITCHES = "network t\ninput 3x32x32\nparam use_bias = false\nparam k = 3x3\nconv 16 k pad=1 bias=use_bias\n"


@pytest.mark.parametrize("defines, shown", [
    (["-D", "use_bias=true"], "bias=true"), (["-D", "use_bias=false"], "bias=false"),
    (["-D", "k=5x5"], "kernel=5x5"), (["-D", "k=5x5", "-D", "use_bias=true"], "kernel=5x5 stride=1x1"),
])
def test_true_false_and_size_parameters_take_dash_d(defines, shown, tmp_path, capsys):
    spec = tmp_path / "t.arch"
    spec.write_text(SWITCHES)
    assert main(["compile", str(spec), "--emit", "ir", *defines]) == 0
    assert shown in capsys.readouterr().out


@pytest.mark.parametrize("define, message", [
    ("use_bias=1", "parameter `use_bias` takes true or false, not '1'"),
    ("k=5", "parameter `k` takes a size of 2 numbers, not '5'"),
])
def test_a_dash_d_of_another_kind_is_e0208_with_a_help_that_works(define, message, tmp_path, capsys):
    spec = tmp_path / "t.arch"
    spec.write_text(SWITCHES)
    assert main(["compile", str(spec), "--check", "-D", define]) == 1
    err = capsys.readouterr().err
    assert f"error[E0208]: {message}\n --> {spec}:" in err
    fix = re.search(r"= help: pass .*, like `(\w+=\S+)`", err).group(1)
    assert main(["compile", str(spec), "--check", "-D", fix]) == 0  # following the help works


def test_a_parameter_given_twice_is_a_usage_error():
    result = run("compile", spec_path("resnet18"), "--check", "-D", "num_classes=3", "-D", "num_classes=4")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "num_classes is given twice (num_classes=3 and num_classes=4)" in result.stderr


@pytest.mark.parametrize("flags, says", [
    (["--emit", "ir", "--dtype", "fp16"], "--emit ir builds no module; --dtype needs one"),
    (["--emit", "ir", "--channels-last", "--torch-compile"],
     "--emit ir builds no module; --channels-last and --torch-compile need one"),
    (["--check", "--emit", "code"], "--check builds no module; --emit code prints the one built"),
    (["--emit", "code", "--torch-compile"], "--emit code prints the module and stops; --torch-compile runs it"),
    (["--check", "--dtype", "bf16"], "--check builds no module; --dtype needs one (drop --check)"),
])
def test_flags_that_would_be_ignored_are_usage_errors(flags, says, capsys):
    assert main(["compile", str(spec_path("resnet18")), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {says}") and err.count("\n") == 1


@pytest.mark.parametrize("size, status, says", [
    ("3x0x5", 1, "error[E0208]: input sizes must be between 1 and 65536, not 0x5"),
    ("4x64x64", 1, "error[E0208]: the spec takes 3-channel input, not 4"),
    ("64x64x64x64", 2, "argument --input: expected CxHxW, HxW or a single size, got '64x64x64x64'"),
    ("٣x64", 2, "argument --input: expected CxHxW, HxW or a single size"),
])
def test_bad_input_sizes(size, status, says):
    result = run("compile", spec_path("resnet18"), "--check", "--input", size)
    assert result.returncode == status and says in result.stderr and "Traceback" not in result.stderr


def test_an_empty_spec_path_is_named_so(capsys):
    assert main(["compile", "", "--check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error[E0001]: the spec is an empty string: no path and no text")
    assert err.rstrip().endswith("(empty path): 1 error, 0 warnings")
