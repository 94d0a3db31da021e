"""What an adversarial run found (issue 15 items 6, 9, 10): odd bytes in names and paths, memory of
`--emit code`, bidi controls, `-o dir/`, `--torch-compile` without parameters, NUL bytes."""

import json
import os
import subprocess
import sys

import pytest

from archdsl.api import analyse
from archdsl.cli import main
from archdsl.diagnostics import Source, Span, error, render
from conftest import ROOT, spec_path

NO_NETWORK_LINE = "input 3x8x8\nconv 8 3x3\nrelu\n"


def run(*args, cwd=ROOT):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "archdsl", *args], capture_output=True, cwd=cwd, env=env, timeout=300)


@pytest.fixture
def odd_names(tmp_path):
    """Specs without a `network` line (named after their file) whose names hold a non-UTF-8 byte or an escape."""
    folder = os.fsencode(tmp_path)
    paths = [folder + b"/net\xff.arch", folder + b"/ctl\x1b[31m.arch"]
    for path in paths:
        with open(path, "wb") as file:
            file.write(NO_NETWORK_LINE.encode())
    return [os.fsdecode(p) for p in paths]


def test_odd_file_names_are_escaped_in_summary_json_and_diagrams(odd_names, tmp_path):
    for path, shown in zip(odd_names, ["net\\xff", "ctl\u241b[31m"]):
        summary = run("summary", path, "--json")
        assert summary.returncode == 0, summary.stderr
        data = json.loads(summary.stdout.decode("utf-8"))  # strict: no lone surrogate
        assert data["network"] == shown
        for suffix in (".dot", ".mmd", ".svg"):
            out = tmp_path / f"out{suffix}"
            drawn = run("render", path, "-o", str(out))
            assert drawn.returncode == 0, drawn.stderr
            written = out.read_bytes()
            assert b"\x1b" not in written and b"\xff" not in written
            written.decode("utf-8")


def test_odd_file_names_are_escaped_in_diagnostics(tmp_path):
    path = os.fsencode(tmp_path) + b"/bad\xff\x1b.arch"
    with open(path, "wb") as file:
        file.write(b"input 3x8x8\nconv 8 3x3 gropus=1\n")
    text = run("compile", "--check", os.fsdecode(path))
    assert text.returncode == 1 and b"bad\\xff\xe2\x90\x9b.arch:2:12" in text.stderr
    as_json = run("compile", "--check", os.fsdecode(path), "--format", "json")
    found = json.loads(as_json.stderr.decode("utf-8"))
    assert found["file"].endswith("bad\\xff\x1b.arch") and found["code"] == "E0203"


def test_bidi_controls_are_escaped_and_the_caret_follows():
    source = Source("t.arch", "conv 8 \u202e3x3 \u2066gropus=1\n")
    d = error("E0203", "conv has no option `gropus`", Span(source, 1, 14, 1, 20), "unknown option")
    lines = render(d).splitlines()
    assert "\u202e" not in render(d) and "\u2066" not in render(d)
    code, caret = lines[3], lines[4]
    assert code.endswith("conv 8 <U+202E>3x3 <U+2066>gropus=1")
    assert caret.index("^") == code.index("gropus") and caret.count("^") == len("gropus")
    wide = error("E0101", "unexpected character", Span(source, 1, 8, 1, 9), "here")
    assert render(wide).splitlines()[4].count("^") == len("<U+202E>")
    assert "\u202e" not in json.dumps(d.as_dict(), ensure_ascii=False)


def test_a_spec_with_a_bidi_control_gets_an_escaped_diagnostic():
    graph, diagnostics = analyse("input 3x8x8\nconv 8 3x3 \u202egropus=1\n")
    assert graph is None and "\u202e" not in render(diagnostics[0])


def test_a_nul_byte_is_placed(tmp_path):
    path = tmp_path / "nul.arch"
    path.write_bytes(b"input 3x8x8\nconv 8\x00 3x3\n")
    _, [d] = analyse(path)
    assert d.code == "E0002" and (d.span.line, d.span.col) == (2, 7)
    assert "\x00" not in render(d)


@pytest.mark.parametrize("target", ["x.dot/", "folder"])
def test_render_refuses_a_directory(tmp_path, capsys, target):
    (tmp_path / "folder").mkdir()
    with pytest.raises(SystemExit) as stop:
        main(["render", str(spec_path("resnet18")), "-o", f"{tmp_path}/{target}"])
    assert stop.value.code == 2 and "is a directory" in capsys.readouterr().err
    assert not (tmp_path / "x.dot").exists()


def test_torch_compile_of_a_network_without_parameters(tmp_path, capsys):
    pytest.importorskip("torch")
    from archdsl.backends.torch.options import try_compile

    from archdsl.api import build

    report = try_compile(build("input 3x8x8\nmaxpool 2\n"), (3, 8, 8))
    assert report.ok and report.device == "cpu"


def test_emit_code_allocates_no_weights(tmp_path):
    spec = tmp_path / "big.arch"
    spec.write_text("input 3x8x8\nflatten\nlinear 20000\nlinear 25000\n")  # 504M parameters, 2 GB in fp32
    # the peak of this process's own memory (VmHWM): getrusage's ru_maxrss keeps the peak of the process
    # before exec, a fork of this test process, which holds the suite's models by then
    code = ("import re, sys; from archdsl.cli import main; rc = main(['compile', '--emit', 'code', %r]); "
            "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1); "
            "print(rc, hwm, file=sys.stderr)" % str(spec))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    rc, peak_kib = map(int, result.stderr.split()[-2:])
    assert rc == 0 and "def forward" in result.stdout
    assert peak_kib < 1_000_000, f"peak RSS {peak_kib / 1024:.0f} MiB"


def test_compile_without_check_builds_on_meta(monkeypatch):
    pytest.importorskip("torch")
    import argparse

    import archdsl.cli as cli
    from archdsl.api import load

    graph = load(spec_path("resnet18"))
    args = argparse.Namespace(torch_compile=None, dtype=None, channels_last=False, max_params=None,
                              max_activations=None, max_nodes=None, output=None)
    module = cli.build_module(graph, args)
    assert {p.device.type for p in module.parameters()} == {"meta"}
