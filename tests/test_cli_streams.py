"""The command line under hostile conditions (issue 15 items 4, 5, 7, 8; issue 13 item 4): Ctrl-C at
any moment, closed or full standard streams, broken pipes, internal errors under --format json."""

import ast
import json
import signal
import subprocess
import sys
import time

import pytest

import archdsl.cli
from archdsl.cli import main
from conftest import ROOT, spec_path

SPEC = str(spec_path("resnet50"))
BAD = "input 3x8x8\nconv 8 3x3 gropus=1\n"


def shell(command: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def archdsl_(args: str) -> str:
    return f"{sys.executable} -m archdsl {args}"


INTERRUPTED_IMPORT = """
import runpy, sys
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            raise KeyboardInterrupt
sys.meta_path.insert(0, Interrupt())
sys.argv = ["archdsl", "compile", "--check", {spec!r}]
{run}
"""


@pytest.mark.parametrize("module", ["pydantic", "archdsl.semantics", "archdsl.syntax.lalr"])  # --check imports
# no networkx, and no lark once the parser's tables are cached
@pytest.mark.parametrize("run", ["runpy.run_module('archdsl', run_name='__main__')",
                                 "from archdsl.cli import main; sys.exit(main())"])  # the console script's
def test_ctrl_c_while_importing_exits_130_quietly(module, run):
    code = INTERRUPTED_IMPORT.format(module=module, spec=SPEC, run=run)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert (result.returncode, result.stderr) == (130, "")


@pytest.mark.parametrize("delay", [0.3, 0.7])
def test_ctrl_c_at_a_moment_exits_130_quietly(delay):
    process = subprocess.Popen([sys.executable, "-m", "archdsl", "summary", SPEC], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode in (130, 0, -signal.SIGINT) and "Traceback" not in err and "E9999" not in err, err


def test_a_closed_stderr_keeps_the_exit_status(tmp_path):
    bad = tmp_path / "bad.arch"
    bad.write_text(BAD)
    good = shell(archdsl_(f"compile --check {SPEC} 2>&-"))
    assert good.returncode == 0 and good.stdout.startswith("ok: resnet50")
    result = shell(archdsl_(f"compile --check {bad} 2>&-"))
    assert (result.returncode, result.stdout) == (1, "")  # the diagnostics are lost, not sent to stdout


@pytest.mark.parametrize("redirect, message", [("> /dev/full", "No space left on device"),
                                               (">&-", "the standard output is closed")])
def test_an_unwritable_stdout_is_one_line_not_an_internal_error(redirect, message):
    for command in (f"compile --check {SPEC}", f"compile --emit ir {SPEC}", f"summary {SPEC} --json"):
        result = shell(archdsl_(f"{command} {redirect}"))
        assert result.returncode == 1
        assert result.stderr == f"error: cannot write the output: {message}\n"


def test_a_broken_pipe_ends_quietly():
    result = shell(archdsl_(f"compile --emit ir {SPEC} | head -1; echo \"${{PIPESTATUS[0]}}\""))
    assert result.stdout.splitlines()[-1] == "0" and result.stderr == ""


def test_a_full_stderr_still_exits_1(tmp_path):
    bad = tmp_path / "bad.arch"
    bad.write_text(BAD)
    result = shell(archdsl_(f"compile --check {bad} 2>/dev/full"))
    assert result.returncode == 1


def test_an_internal_error_under_format_json_is_json(monkeypatch, capsys):
    def broken(graph, seconds):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(archdsl.cli, "verdict", broken)
    assert main(["compile", SPEC, "--check", "--format", "json"]) == 1
    [line] = capsys.readouterr().err.splitlines()
    found = json.loads(line)
    assert found["code"] == "E9999" and "RuntimeError: simulated bug" in found["message"]
    assert main(["compile", SPEC, "--check"]) == 1
    assert capsys.readouterr().err.startswith("error[E9999]: internal error in archdsl: RuntimeError")


def test_the_commands_do_not_import_the_cli():
    for path in (ROOT / "archdsl" / "commands").glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert "archdsl.cli" not in imported, path


def test_a_command_module_imports_on_its_own():
    code = "import archdsl.commands.render, sys; print('archdsl.cli' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
