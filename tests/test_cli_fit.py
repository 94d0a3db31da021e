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
