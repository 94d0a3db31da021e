"""No input breaks the checker: whatever the bytes, the answer is exit 0 or 1 and diagnostics
that name file:line:col, never a traceback, a hang or unbounded memory.

Hypothesis mutates every bundled spec (numbers, lines, words, truncation, junk bytes, brackets,
long lines) and generates specs from a small grammar of statements; the extremes the issue
names are tested one by one; so are paths that are not readable spec files, bad usage (exit 2),
and that a spec's text is never run as code.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import signal
import socket
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archdsl
from archdsl.api import MAX_SPEC_BYTES, analyse, decode
from archdsl.cli import main
from archdsl.diagnostics import Diagnostic, Source, render
from archdsl.limits import Limits
from archdsl.backends.summary.table import totals
from conftest import ROOT, spec_path
from spec_strategies import SEQUENCE_SPECS, SPECS, generated_spec, mutant, sequence_mutant, sequence_spec

#: the only errors without a place in the text: the file as a whole cannot be used (E0001 unreadable,
#: E0002 binary, E0003 too large), a command-line -D or --input is wrong (E0208), or `render`
#: cannot write its output or find Graphviz (E0004, E0005)
SPANLESS = {"E0001", "E0002", "E0003", "E0004", "E0005", "E0208"}
FUZZ = settings(derandomize=True, deadline=None, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- the properties every answer has ---------------------------------------------------------

def check_answer(name: str, diagnostics: list[Diagnostic]) -> None:
    """Every diagnostic is one of ours, placed inside the text, and renders with file:line:col."""
    for d in diagnostics:
        assert re.fullmatch(r"[EW]0\d{3}", d.code), d
        assert d.message, d
        if d.span is None:
            assert d.code in SPANLESS, d
        for span in [d.span, *(note.span for note in d.notes)]:
            if span is not None:
                check_span(_file_of(name, span), span, d)
        shown = render(d)
        assert "Traceback" not in shown and "E9999" not in shown
        if d.span is not None:
            assert f"{_file_of(name, d.span)}:{d.span.line}:{d.span.col}" in shown


def _file_of(name: str, span) -> str:
    """The file a span should lie in: the spec's, or a block library beside it (`use NAME`)."""
    file = span.file
    beside = Path(file).parent == Path(name).parent and file.endswith(".arch")
    return file if file != name and beside and Path(file).is_file() else name


def check_span(name: str, span, d: Diagnostic) -> None:
    """The span lies in the text it points into (for E0002, the text as shown with replacements)."""
    assert span.file == name and span.source is not None, d
    lines = span.source.text.count("\n") + 1
    assert 1 <= span.line <= lines + 1 and span.col >= 1, (d, lines)
    assert span.col <= len(span.source.line(span.line)) + 1, (d, span.source.line(span.line))
    assert (span.end_line, span.end_col) >= (span.line, span.col), d


def check_bytes(name: str, data: bytes) -> list[Diagnostic]:
    """Decode and check `data` as the CLI would after reading it; assert the properties."""
    source, diagnostics = decode(name, data)
    if source is not None:
        graph, diagnostics = analyse(source)
        if graph is not None:
            within_budget(graph)
    check_answer(name, diagnostics)
    return diagnostics


def within_budget(graph) -> None:
    """An accepted network fits the default limits (the budget is not only projected)."""
    limits, figures = Limits(), totals(graph)
    assert figures.params <= limits.params and figures.activation_bytes <= limits.activation_bytes
    assert len(graph) <= limits.nodes


@contextlib.contextmanager
def deadline(seconds: float):
    """Fail instead of hanging: a hang guard, not a timing assertion."""
    def stop(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), deadline(30):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def check_cli_text(path: str, code: int, err: str) -> None:
    """Exit 0 or 1; every error headline in the output is followed by its file:line:col."""
    assert code in (0, 1), err
    assert "Traceback" not in err and "E9999" not in err, err
    blocks = [b for b in err.split("\n\n") if b.startswith(("error[", "warning["))]
    for block in blocks:
        found = re.match(r"(?:error|warning)\[([EW]\d{4})\]", block).group(1)
        folder = re.escape(str(Path(path).parent) + "/") if "/" in path else ""
        here = rf"(?:{re.escape(path)}|{folder}[\w-]+\.arch)"  # the spec, or a block library beside it
        assert found in SPANLESS or re.search(rf"\n *--> {here}:\d+:\d+\n", block), block


# --- mutants of the bundled specs ------------------------------------------------------------

@settings(FUZZ, max_examples=1500)
@given(mutant())
def test_mutants_of_the_bundled_specs_never_break_the_checker(case):
    name, data = case
    with deadline(20):
        check_bytes(name, data)


# --- specs generated from a small grammar of statements ---------------------------------------

@settings(FUZZ, max_examples=1200)
@given(generated_spec())
def test_generated_specs_never_break_the_checker(text):
    with deadline(20):
        check_bytes("gen.arch", text.encode())


# --- specs on named axes: token sequences, patterns, attention (issue 24) -----------------------

def test_the_specs_on_named_axes_check_clean_before_they_are_mutated():
    for name, text in SEQUENCE_SPECS.items():
        assert analyse(Source(name, text))[1] == [], name


@settings(FUZZ, max_examples=500)
@given(sequence_mutant())
def test_mutants_of_the_specs_on_named_axes_never_break_the_checker(case):
    name, data = case
    with deadline(20):
        check_bytes(name, data)


@settings(FUZZ, max_examples=600)
@given(sequence_spec())
def test_generated_sequence_specs_never_break_the_checker(text):
    with deadline(20):
        check_bytes("seq.arch", text.encode())


def test_the_sequence_grammar_reaches_accepted_networks_and_each_kind_of_refusal():
    accepted, codes = 0, set()

    @settings(FUZZ, max_examples=200)
    @given(sequence_spec())
    def count(text):
        nonlocal accepted
        graph, found = analyse(Source("seq.arch", text))
        accepted += graph is not None
        codes.update(d.code for d in found)

    count()
    assert accepted >= 10
    assert {"E0340", "E0341", "E0344"} <= codes, codes


def test_the_grammar_of_generated_specs_reaches_accepted_networks():
    """The generator is not all noise: some of what it makes is a valid network."""
    accepted = 0

    @settings(FUZZ, max_examples=150)
    @given(generated_spec())
    def count(text):
        nonlocal accepted
        accepted += analyse(Source("gen.arch", text))[0] is not None

    count()
    assert accepted >= 10


# --- the command line on mutants: exit codes and output ---------------------------------------

COMMANDS = [["compile", "--check"], ["compile", "--check", "--format", "json"], ["summary"],
            ["render", "-o", "{folder}/out.dot"], ["render", "-o", "{folder}/out.mmd", "--depth", "layer"],
            ["fmt", "--check"]]


@settings(FUZZ, max_examples=150)
@given(st.one_of(mutant(), generated_spec().map(lambda t: ("gen.arch", t.encode())),
                 sequence_spec().map(lambda t: ("seq.arch", t.encode()))),
       st.sampled_from(COMMANDS))
def test_every_command_answers_mutants_with_exit_0_or_1(case, command):
    name, data = case
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, os.path.basename(name))
        Path(path).write_bytes(data)
        code, out, err = run_cli(command[0], path, *(word.format(folder=folder) for word in command[1:]))
    if "json" in command:
        assert code in (0, 1) and "Traceback" not in err
        for line in err.splitlines():
            record = json.loads(line)
            assert record["code"] in SPANLESS or (record["file"] == path and record["line"] >= 1
                                                  and record["column"] >= 1)
    else:
        check_cli_text(path, code, err)


# --- the extremes, one by one ------------------------------------------------------------------

HEAD = "network t\ninput 3x32x32\n"
EXTREMES = {
    "megabyte line of words": (HEAD + "conv " + "a " * 500_000 + "\n", "E0504"),
    "megabyte word": (HEAD + "a" * 1_000_000 + "\n", "E0504"),
    "megabyte comment": (HEAD + "relu  # " + "x" * 1_000_000 + "\n", None),
    "megabyte of junk": (HEAD + "§" * 1_000_000 + "\n", "E0101"),
    "a hundred thousand lines": (HEAD + "relu\n" * 100_000, "E0504"),
    "thousands of nested brackets": (HEAD + "conv " + "[" * 5000 + "]" * 5000 + "\n", "E0103"),
    "thousands of unclosed brackets": (HEAD + "conv " + "(" * 5000 + "\n", "E0103"),
    "thousands of nested blocks": (HEAD + "".join(" " * i + "scope\n" for i in range(3000)), "E0504"),
    "a long sum": (HEAD + "conv " + "+".join(["1"] * 100_000) + " 3x3\n", "E0504"),
    "a long sum in a parameter": ("network t\ninput 3x8x8\nparam a = " + "1+" * 1000 + "1\nconv a 1x1\n", "E0504"),
    "2**40 channels": (HEAD + "conv 1099511627776 3x3\n", "E0105"),
    "2**40 by arithmetic": (HEAD + "conv 1048576*1048576 3x3\n", "E0105"),
    "a repeat of 2**40": (HEAD + "stages basic\n  l [1099511627776, [[8,3x3],[8,3x3]]]\n", "E0105"),
    "a repeat of a billion": (HEAD + "stages basic\n  l [999999999, [[8,3x3],[8,3x3]]]\n", "E0501"),
    "a billion channels": (HEAD + "conv 999999999 3x3\nconv 999999999 3x3\n", "E0501"),
    "the largest input": ("network t\ninput 3x65536x65536\nconv 64 3x3\n", "E0502"),
    "a thousand dense units": (HEAD + "stages dense\n  d [1000, [[128,1x1],[32,3x3]]]\n", "E0502"),
    "a squeeze of a billion": (HEAD + "stages bottleneck se=999999999\n  l [1, [[8,1x1],[8,3x3],[999999998,1x1]]]\n",
                               "E0322"),
    "infinity": (HEAD + "dropout 1e999\n", "E0105"),
    "not a number": (HEAD + "bn eps=1e999-1e999\n", "E0105"),
    "an empty file": ("", "E0212"),
    "only blank lines": ("\n\n \n\t\n", "E0212"),
    "a lone carriage return": (HEAD + "relu\rrelu\n", "E0101"),
    "a form feed in a comment": (HEAD + "relu # [\x0c(\nrelu\n", None),
    "a line separator": (HEAD + "relu # \u2028 [\nrelu\n", None),
    "a byte-order mark": ("\ufeff" + HEAD + "relu\n", None),  # dropped, as Windows editors write it
    "terminal escapes": (HEAD + "relu \x1b[2J\x1b]0;pwned\x07\n", "E0101"),
}


@pytest.mark.parametrize("name", sorted(EXTREMES))
def test_extreme_inputs_get_a_diagnostic_quickly(name):
    text, code = EXTREMES[name]
    with deadline(10):
        found = check_bytes("x.arch", text.encode())
    assert [d.code for d in found if d.is_error][:1] == ([code] if code else [])
    shown = "".join(render(d) for d in found)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", shown), "control characters reach the terminal"


def test_the_size_limits_are_found_as_the_full_scan_finds_them(monkeypatch):
    """check_size skips its scan where a text cannot pass a limit (layout._within_limits): near
    every limit, and over it, it reports what the scan reports."""
    from archdsl.diagnostics import Source
    from archdsl.syntax import layout

    near = [HEAD + "conv " + "a" * n + " 3x3\n" for n in (127, 128, 129)] + \
        [HEAD + 'rearrange "' + "c" * n + '"\n' for n in (125, 126, 127)] + \
        [HEAD + "".join(" " * i + "scope\n" for i in range(n)) + " " * n + "relu\n" for n in (31, 32, 33, 34)] + \
        [HEAD + "scope\n" + "\t" * n + "relu\n" for n in (1, 5)] + \
        [HEAD + "conv " + "+".join(["1"] * n) + " 3x3\n" for n in (64, 65, 66)] + \
        [HEAD + "conv 1 1x1\n" + "relu\n" * n for n in (3990, 4000)] + \
        [HEAD + "conv [" + "1 +\n" * 70 + "1] 3x3\n", HEAD + "# " + "x" * 200 + "\nrelu\n"]
    for text in near:
        source = Source("t", text)
        quick = layout.check_size(source)
        with monkeypatch.context() as m:
            m.setattr(layout, "_within_limits", lambda text: False)
            assert repr(quick) == repr(layout.check_size(source))
    assert [bool(layout.check_size(Source("t", text))) for text in near[:3]] == [False, False, True]


def test_a_long_spec_within_the_limits_is_summarized_and_drawn_without_a_hang(tmp_path):
    """Every node is matched to its statement by a search, not a scan of all statements (which
    took minutes for the longest spec the limits allow)."""
    spec = tmp_path / "chain.arch"
    spec.write_text(HEAD + "relu\n" * 6000)
    with deadline(30):
        code, out, _ = run_cli("summary", str(spec), "--depth", "1")
        assert code == 0 and sum(line.startswith("relu (") and line.split()[2] == "relu"
                                 for line in out.splitlines()) == 6000  # `relu (12)  relu  ...`
        assert run_cli("render", str(spec), "-o", str(tmp_path / "chain.mmd"), "--depth", "layer")[0] == 0


def test_files_up_to_the_size_limit_are_read_and_larger_ones_refused(tmp_path):
    spec = tmp_path / "big.arch"
    spec.write_bytes((HEAD + "relu\n").encode() + b"#" * (MAX_SPEC_BYTES - len(HEAD) - 5))
    assert run_cli("compile", str(spec), "--check")[0] == 0
    spec.write_bytes(spec.read_bytes() + b"#")
    code, _, err = run_cli("compile", str(spec), "--check")
    assert code == 1 and err.startswith("error[E0003]: ")


@pytest.mark.parametrize("data, where", [(HEAD.encode() + b"relu \xff\xfe\n", ":3:6"),
                                         (HEAD.encode()[:-3] + "é".encode()[:1], ":2:12")])
def test_bytes_that_are_not_utf8_are_placed(data, where, tmp_path):
    spec = tmp_path / "latin.arch"
    spec.write_bytes(data)
    code, _, err = run_cli("compile", str(spec), "--check")
    assert code == 1 and err.startswith("error[E0002]: the file is not UTF-8 text") and f"{spec}{where}" in err


# --- paths that are not readable spec files -----------------------------------------------------

def _socket(path: Path) -> Path:
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _loop(path: Path) -> Path:
    path.symlink_to(path)
    return path


def _under_a_file(path: Path) -> Path:
    path.write_text(HEAD)
    return path / "spec.arch"


PATHS = {  # how to make it, and what the message says
    "missing": (lambda p: p, "no such file"),
    "a directory": (lambda p: (p.mkdir(), p)[1], "is a directory, not a spec"),
    "a FIFO": (_fifo, "is a FIFO (named pipe), not a spec"),
    "a socket": (_socket, "is a socket, not a spec"),
    "a device": (lambda p: Path("/dev/zero"), "is a device, not a spec"),
    "a path under a file": (_under_a_file, "Not a directory"),
    "a symlink loop": (_loop, "Too many levels of symbolic links"),
    "a dangling symlink": (lambda p: (p.symlink_to(p.parent / "gone.arch"), p)[1], "no such file"),
}


@pytest.mark.parametrize("command", [["compile", "--check"], ["summary"], ["render", "-o", "out.dot"]])
@pytest.mark.parametrize("kind", sorted(PATHS))
def test_unusable_paths_are_clean_errors(kind, command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make, says = PATHS[kind]
    path = make(tmp_path / "spec.arch")
    code, out, err = run_cli(command[0], str(path), *command[1:])
    assert code == 1 and out == ""
    assert err.startswith("error[E0001]: ") and says in err.splitlines()[0], err
    assert "Traceback" not in err


def test_a_nul_in_a_path_is_a_clean_error():
    _, found = analyse("specs/resnet18\x00.arch")
    assert [d.code for d in found] == ["E0001"] and "embedded null byte" in found[0].message


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["compile"], ["compile", "x.arch", "--input", "big"],
                                  ["compile", "x.arch", "-D", "no-value"], ["render", "x.arch"],
                                  ["summary", "x.arch", "--depth", "0"], ["compile", "x.arch", "--max-nodes", "1.5x"],
                                  ["compile", "x.arch", "--check", "--dtype", "bf16"],
                                  ["render", "x.arch", "-o", "x.png", "--dpi", "-5"],
                                  ["render", "x.arch", "-o", "x.png", "--dpi", "100000"]])
def test_bad_usage_exits_2(argv):
    with contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            code = main(argv)
        except SystemExit as exited:
            code = exited.code
    assert code == 2 and "Traceback" not in err.getvalue()


# --- a spec is data, never code -----------------------------------------------------------------

#: builtins that run text as Python, and modules that load code or objects or start programs
RUNS_CODE = {"eval", "exec", "compile", "__import__", "breakpoint"}
LOADS_CODE = {"pickle", "marshal", "shelve", "runpy", "importlib", "code", "codeop", "subprocess", "ctypes"}


def code_runners(path: Path) -> list[str]:
    """Calls of RUNS_CODE builtins, os.system/popen/exec*/spawn*, and imports of LOADS_CODE in a file
    (importlib.resources, which reads the package's data files, is not one)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in RUNS_CODE:
            found.append(f"{node.lineno}: {node.func.id}()")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "os" and node.func.attr.startswith(("system", "popen", "exec", "spawn"))):
            found.append(f"{node.lineno}: os.{node.func.attr}()")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            prefix = f"{node.module}." if isinstance(node, ast.ImportFrom) else ""
            names = [prefix + a.name for a in node.names]
            found += [f"{node.lineno}: import {name}" for name in names
                      if name.split(".")[0] in LOADS_CODE and not name.startswith("importlib.resources")]
    return found


def test_nothing_in_archdsl_can_run_text_as_python():
    """Loading a spec parses it with the grammar and nothing else: no eval/exec/compile, no dynamic
    import, pickle or marshal, no programs started anywhere in archdsl/ (and there is no include
    mechanism, so no path in a spec is ever opened)."""
    found = {str(p.relative_to(ROOT)): code_runners(p) for p in sorted(ROOT.joinpath("archdsl").rglob("*.py"))}
    assert {path: lines for path, lines in found.items() if lines} == {}


def test_the_code_runner_scan_sees_them():
    sample = ROOT / "tests" / "test_robustness.py"
    assert code_runners(sample) == []
    probe = Path(tempfile.mkdtemp()) / "probe.py"
    probe.write_text("import pickle\nfrom importlib import import_module, resources\neval(text)\nos.system(text)\n")
    assert code_runners(probe) == ["1: import pickle", "2: import importlib.import_module", "3: eval()",
                                   "4: os.system()"]


def test_python_in_a_spec_is_only_a_syntax_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "evil.arch"
    spec.write_text(HEAD + "__import__('os').system('touch pwned')\n"
                    "include /etc/passwd\nimport os\nexec open\n")
    code, _, err = run_cli("compile", str(spec), "--check")
    assert code == 1 and not (tmp_path / "pwned").exists()
    assert re.findall(r"error\[(E\d+)\]", err)[0] == "E0101"
    # words that would name a file are just words: nothing is opened
    found = archdsl.check(HEAD + "include\nimport\n")
    assert [(d.code, d.message) for d in found] == [("E0201", "unknown layer type `include`"),
                                                     ("E0201", "unknown layer type `import`")]


def test_the_bundled_specs_check_clean_with_the_properties():
    for name, text in SPECS.items():
        assert check_bytes(name, text.encode()) == [], name
    assert spec_path("resnet50").read_text() in SPECS.values()
