"""`archdsl fmt`: one canonical layout, comments kept, idempotent, never a change of meaning.

Every bundled spec is formatted (a test keeps it so), formats to itself, and its IR is the same
before and after. 500 layout mutants of the bundled networks (made by a seeded generator:
indentation, spacing, blank lines, comments, redundant parentheses, lists split over lines) format
to a fixed point with the original's IR; hypothesis mutants (tests/spec_strategies.py) are either
refused with the parser's diagnostics or formatted to a fixed point.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import HealthCheck, given, settings

from archdsl.api import analyse, decode
from archdsl.cli import main
from archdsl.diagnostics import Source
from archdsl.ir.printer import dump
from archdsl.syntax.formatter import format_source, format_spec
from archdsl.syntax.parser import parse
from archdsl.zoo import is_library
from conftest import SPECS
from spec_strategies import mutant

ALL_SPECS = sorted(SPECS.rglob("*.arch"))
NETWORKS = [p for p in ALL_SPECS if not is_library(p)]
IDS = [p.relative_to(SPECS).as_posix() for p in ALL_SPECS]


def fmt(text: str, name: str = "t.arch") -> str:
    formatted, diagnostics = format_source(Source(name, text))
    assert formatted is not None, diagnostics
    return formatted


def ir(text: str, name: str) -> str:
    """The IR printed by `--emit ir`, or the diagnostics' codes and messages where there is none."""
    graph, diagnostics = analyse(Source(name, text), library=name.endswith("_blocks.arch"))
    if graph is None:
        return "\n".join(f"{d.code} {d.message}" for d in diagnostics)
    return dump(graph) if hasattr(graph, "nodes") else repr([b.name for b in graph.blocks])


# --- the bundled specs ----------------------------------------------------------------------

@pytest.mark.parametrize("path", ALL_SPECS, ids=IDS)
def test_bundled_specs_are_formatted_and_keep_their_ir(path):
    text = path.read_text()
    formatted = fmt(text, str(path))
    assert fmt(formatted, str(path)) == formatted
    assert ir(formatted, str(path)) == ir(text, str(path))
    assert formatted == text, f"{path} is not formatted: run `archdsl fmt specs/`"


def test_fmt_check_passes_on_the_bundled_specs(capsys):
    assert main(["fmt", "--check", str(SPECS)]) == 0
    assert capsys.readouterr().out == ""


# --- the layout, rule by rule -----------------------------------------------------------------

CASES = {
    "indentation, spacing and operators": (
        "network  t\ninput 3x32x32\nparam a=2   b = 3\nstem\n      conv a*b  3x3 pad = (1)  /2\n"
        "      relu\nhead\n    linear max( a ,b )\n",
        "network t\ninput 3x32x32\nparam a = 2  b = 3\n\nstem\n  conv a * b 3x3 pad=1 /2\n  relu\n\n"
        "head\n  linear max(a, b)\n"),
    "parentheses only where needed": (
        "network t\ninput 3x8x8\nlet x = ((1 + 2) * 3) // (4 * (5 - 6)) - (7 - 8)\n"
        "require not (x > 1 and (x < 2 or x == 3))\nlet y = (a - b) - c - (d - e)\n",
        "network t\ninput 3x8x8\nlet x = (1 + 2) * 3 // (4 * (5 - 6)) - (7 - 8)\n"
        "require not (x > 1 and (x < 2 or x == 3))\nlet y = a - b - c - (d - e)\n"),
    "stage tables: nested lists compact, strides aligned": (
        "network t\ninput 3x8x8\nstages bottleneck\n  layer1 [3, [ [64, 1x1], [64 * 2,3x3] ]]\n"
        "  layer2 [ 4,[[128,1x1],[128,3x3]] ] /2\n",
        "network t\ninput 3x8x8\n\nstages bottleneck\n  layer1 [3, [[64,1x1],[64*2,3x3]]]\n"
        "  layer2 [4, [[128,1x1],[128,3x3]]]  /2\n"),
    "a table the author aligned stays aligned": (
        "network t\ninput 3x8x8\nstem\n  conv1  conv 64 7x7\n  bn1 bn\n  relu\n  maxpool maxpool 3x3 /2\n",
        "network t\ninput 3x8x8\n\nstem\n  conv1    conv 64 7x7\n  bn1      bn\n  relu\n"
        "  maxpool  maxpool 3x3 /2\n"),
    "single spaces stay single": (
        "network t\ninput 3x8x8\nstem\n  conv1 conv 64 7x7\n  bn1 bn\n",
        "network t\ninput 3x8x8\n\nstem\n  conv1 conv 64 7x7\n  bn1 bn\n"),
    "comments stay on their lines": (
        "# top\nnetwork t   # name\ninput 3x8x8 # size\n\n\n\nstem\n    # first\n    conv 8 3x3      # a\n"
        "    bn # b\n        # end of stem\n# before head\nhead\n  relu\n# last\n",
        "# top\nnetwork t    # name\ninput 3x8x8  # size\n\nstem\n  # first\n  conv 8 3x3  # a\n"
        "  bn          # b\n  # end of stem\n\n# before head\nhead\n  relu\n# last\n"),
    "a statement over several lines becomes one, its comments above it": (
        "network t\ninput 3x8x8\nstages basic\n  l [2,   # two units\n     [[8,3x3],\n      [8,3x3]]] /2\n",
        "network t\ninput 3x8x8\n\nstages basic\n  # two units\n  l [2, [[8,3x3],[8,3x3]]] /2\n"),
    "blocks: blank lines around them, none inside their openings, elif and else attached": (
        "network t\ninput 3x8x8\nparam big = true\nblock b out\n\n  conv out 3x3\nif big\n  let w = 8\n\n"
        "else\n  let w = 4\n\n\n\nb w\n",
        "network t\ninput 3x8x8\nparam big = true\n\nblock b out\n  conv out 3x3\n\nif big\n  let w = 8\n\n"
        "else\n  let w = 4\n\nb w\n"),
    "tabs, CRLF and trailing blanks": (
        "network t\r\ninput 3x8x8   \r\nstem\r\n\tconv 8 3x3\t\r\n\r\n\r\n",
        "network t\ninput 3x8x8\n\nstem\n  conv 8 3x3\n"),
}


@pytest.mark.parametrize("before, after", CASES.values(), ids=CASES.keys())
def test_the_canonical_layout(before, after):
    source, _ = decode("t.arch", before.encode())
    assert fmt(source.text) == after
    assert fmt(after) == after
    assert _tree(after) == _tree(source.text)


def _tree(text: str):
    from archdsl.syntax.formatter import shape

    spec, diagnostics = parse(Source("t.arch", text))
    assert spec is not None, diagnostics
    return shape(spec)


def test_a_spec_with_syntax_errors_is_refused_with_the_parsers_diagnostics():
    text = "network t\ninput 3x8x8\nconv 8 (3x3\nrelu\n"
    formatted, diagnostics = format_source(Source("t.arch", text))
    assert formatted is None
    assert [d.code for d in diagnostics] == [d.code for d in parse(Source("t.arch", text))[1]] == ["E0103"]


# --- the command ------------------------------------------------------------------------------

UGLY = "network t\ninput 3x8x8\nstem\n    conv  8 3x3\n"
PRETTY = "network t\ninput 3x8x8\n\nstem\n  conv 8 3x3\n"


def test_fmt_rewrites_files_and_folders_in_place(tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    ugly, pretty = tmp_path / "sub" / "a.arch", tmp_path / "b.arch"
    ugly.write_text(UGLY)
    pretty.write_text(PRETTY)
    (tmp_path / "notes.txt").write_text(UGLY)
    assert main(["fmt", str(tmp_path)]) == 0
    assert ugly.read_text() == PRETTY and pretty.read_text() == PRETTY
    assert (tmp_path / "notes.txt").read_text() == UGLY
    assert capsys.readouterr().out == f"reformatted {ugly}\n"


def test_fmt_check_and_diff_change_nothing(tmp_path, capsys):
    ugly = tmp_path / "a.arch"
    ugly.write_text(UGLY)
    assert main(["fmt", "--check", str(ugly)]) == 1
    assert capsys.readouterr().out == f"would reformat {ugly}\n"
    assert main(["fmt", "--diff", str(ugly)]) == 0
    out = capsys.readouterr().out
    assert "-    conv  8 3x3\n" in out and "+  conv 8 3x3\n" in out
    assert ugly.read_text() == UGLY


def test_fmt_refuses_a_broken_spec_and_goes_on_with_the_others(tmp_path, capsys):
    broken, ugly = tmp_path / "a.arch", tmp_path / "b.arch"
    broken.write_text("network t\ninput 3x8x8\nconv 8 (3x3\n")
    ugly.write_text(UGLY)
    assert main(["fmt", str(broken), str(ugly)]) == 1
    err = capsys.readouterr().err
    assert "error[E0103]: unclosed `(`" in err and f"{broken}:3:8" in err
    assert broken.read_text() == "network t\ninput 3x8x8\nconv 8 (3x3\n"
    assert ugly.read_text() == PRETTY


def test_fmt_json_gives_one_object_per_file(tmp_path, capsys):
    import json

    broken, ugly = tmp_path / "a.arch", tmp_path / "b.arch"
    broken.write_text("network t\ninput 3x8x8\nconv 8 (3x3\n")
    ugly.write_text(UGLY)
    assert main(["fmt", "--check", "--format", "json", str(tmp_path)]) == 1
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["file"], r["status"]) for r in records] == [(str(broken), "error"), (str(ugly), "would reformat")]
    assert records[0]["diagnostics"][0]["code"] == "E0103" and records[1]["diagnostics"] == []


def test_fmt_json_carries_the_diff(tmp_path, capsys):
    import json

    ugly = tmp_path / "a.arch"
    ugly.write_text(UGLY)
    assert main(["fmt", "--diff", "--format", "json", str(ugly)]) == 0
    [record] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["status"] == "would reformat" and "+  conv 8 3x3\n" in record["diff"]
    assert ugly.read_text() == UGLY


def test_fmt_reads_standard_input(monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(UGLY.encode())))
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == PRETTY


# --- mutants ----------------------------------------------------------------------------------

MUTANTS = 500
IR_EVERY = 10
_UNITS = ["   ", "    ", "\t", " "]


def _code_and_comment(line: str) -> tuple[str, str]:
    at = line.find("#")
    return (line, "") if at < 0 else (line[:at], line[at:])


def _reindent(lines: list[str], rng: random.Random) -> list[str]:
    unit = rng.choice(_UNITS)
    out = []
    for line in lines:
        stripped = line.lstrip(" ")
        out.append(unit * ((len(line) - len(stripped)) // 2) + stripped)
    return out


def _respace(line: str, rng: random.Random) -> str:
    code, comment = _code_and_comment(line)
    indent = code[:len(code) - len(code.lstrip())]
    body = re.sub(r" +", lambda m: " " * rng.randint(1, 3), code[len(indent):])
    return indent + body + " " * rng.randint(0, 2) + comment


def _punctuation(line: str, rng: random.Random) -> str:
    code, comment = _code_and_comment(line)
    code = re.sub(r",\s*", lambda m: rng.choice([",", ", ", " , "]), code)
    code = re.sub(r"(?<=\S)\s*\*\s*(?=\S)", lambda m: rng.choice(["*", " * ", " *"]), code)
    code = re.sub(r"(?<=\w)=(?=\w)", lambda m: rng.choice(["=", " = ", "= "]), code)
    code = re.sub(r"\[", lambda m: rng.choice(["[", "[ "]), code)
    return code + comment


def _parenthesise(line: str, rng: random.Random) -> str:
    code, comment = _code_and_comment(line)
    def wrap(match: re.Match) -> str:
        value = match.group(1)
        return value if re.fullmatch(r"\d+(x\d+)+", value) or rng.random() < 0.5 else f"(({value}))"

    code = re.sub(r"(?<=[a-z_]=)([\w.]+)(?=\s|$)", wrap, code)
    return code + comment


def _split_list(line: str, rng: random.Random) -> str:
    code, comment = _code_and_comment(line)
    commas = [m.start() for m in re.finditer(r",", code) if code[:m.start()].count("[") > code[:m.start()].count("]")]
    if not commas:
        return line
    at = rng.choice(commas) + 1
    inside = "  # inside\n" if rng.random() < 0.5 else "\n"
    return code[:at] + inside + " " * rng.randint(0, 12) + code[at:] + comment


def layout_mutant(text: str, rng: random.Random) -> str:
    """`text` laid out differently, meaning the same: a few of the mutations above, in some order."""
    lines = text.rstrip("\n").split("\n")
    if rng.random() < 0.5:
        lines = _reindent(lines, rng)
    for _ in range(rng.randint(1, 5)):
        how = rng.choice(["respace", "punctuation", "parens", "blank", "comment", "trailing", "split"])
        i = rng.randrange(len(lines))
        if how == "blank":
            lines[i:i] = [" " * rng.randint(0, 4)] * rng.randint(1, 3)
        elif how == "comment":
            lines.insert(i, " " * rng.randint(0, 8) + f"# note {i}")
        elif how == "trailing" and lines[i].strip() and "#" not in lines[i]:
            lines[i] += " " * rng.randint(1, 9) + f"# about line {i}"
        elif how in ("respace", "punctuation", "parens", "split") and "#" not in lines[i].lstrip()[:1] \
                and '"' not in lines[i]:  # a quoted pattern is text: its spaces and commas are its own
            change = {"respace": _respace, "punctuation": _punctuation, "parens": _parenthesise,
                      "split": _split_list}[how]
            lines[i] = change(lines[i], rng)
    return "\n".join(lines) + "\n" * rng.randint(0, 3)


@pytest.fixture(scope="module")
def original_ir():
    return {path: ir(path.read_text(), str(path)) for path in NETWORKS}


def test_the_syntax_tree_check_catches_a_change_of_meaning(monkeypatch):
    from archdsl.syntax import formatter

    monkeypatch.setitem(formatter._SYMBOLS, "sub", "+")
    with pytest.raises(formatter.FormatError, match="would change its meaning"):
        fmt("network t\ninput 3x8x8\nconv 9 - 1 3x3\n")


def test_formatting_500_layout_mutants_is_idempotent_and_keeps_the_ir(original_ir):
    """Each mutant's syntax tree is compared by format_source itself (it raises where the tree would
    change); the IR, which takes longer to build, is compared for every tenth."""
    rng = random.Random(22)
    changed = 0
    for n in range(MUTANTS):
        path = rng.choice(NETWORKS)
        text = layout_mutant(path.read_text(), rng)
        formatted = fmt(text, str(path))
        assert format_spec(parse(Source(str(path), formatted))[0]) == formatted, f"mutant {n} of {path}:\n{text}"
        if n % IR_EVERY == 0:
            assert ir(formatted, str(path)) == original_ir[path], f"mutant {n} of {path}:\n{text}"
        changed += formatted != text
    assert changed > MUTANTS // 2  # the mutants were laid out differently, and fmt undid it


def test_indentation_spacing_and_parentheses_do_not_change_the_layout():
    rng = random.Random(7)
    for path in NETWORKS:
        text = path.read_text()
        lines = _reindent(text.rstrip("\n").split("\n"), rng)
        lines = [_parenthesise(_punctuation(line, rng), rng) for line in lines]
        assert fmt("\n".join(lines) + "\n", str(path)) == fmt(text, str(path)), path


@settings(derandomize=True, deadline=None, database=None, max_examples=150,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutant())
def test_any_mutant_is_formatted_to_a_fixed_point_or_refused_as_the_parser_refuses_it(case):
    name, data = case
    source, diagnostics = decode(name, data)
    if source is None:
        return
    formatted, diagnostics = format_source(source)
    if formatted is None:
        assert diagnostics and parse(source)[0] is None
    else:
        assert fmt(formatted, name) == formatted
