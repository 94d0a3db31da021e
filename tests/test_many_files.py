"""Several specs in one process: `compile --check`, `summary` and `fmt` over files and folders,
one result per file, exit 1 if any file has an error, one JSON object per file; and the
pre-commit hooks that run them."""

from __future__ import annotations

import json
import re
import shlex
from collections import OrderedDict

import pytest

from archdsl.cli import main
from archdsl.commands.files import spec_paths
from conftest import ROOT, SPECS

GOOD = "network good\ninput 3x8x8\nconv 4 3x3\n"
BROKEN = "network broken\ninput 3x8x8\nconv 4 (3x3\n"
LIBRARY = "block pair out\n  conv out 3x3\n  relu\n"


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "nested" / ".hidden").mkdir(parents=True)
    (tmp_path / "b.arch").write_text(GOOD)
    (tmp_path / "nested" / "a.arch").write_text(BROKEN)
    (tmp_path / "nested" / "lib.arch").write_text(LIBRARY)
    (tmp_path / "nested" / ".hidden" / "c.arch").write_text(BROKEN)
    (tmp_path / "notes.txt").write_text(BROKEN)
    return tmp_path


def test_a_folder_stands_for_its_arch_files_recursively(folder):
    assert spec_paths([str(folder), str(folder / "b.arch")]) == [
        str(folder / "b.arch"), str(folder / "nested" / "a.arch"), str(folder / "nested" / "lib.arch")]


def test_compile_check_gives_one_result_a_file_and_fails_if_any_fails(folder, capsys):
    assert main(["compile", "--check", str(folder)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith(f"{folder / 'b.arch'}: ok: good: 108 parameters, 3,888 MACs at 3x8x8 -> 4x6x6 (")
    assert lines[1].startswith(f"{folder / 'nested' / 'lib.arch'}: ok: block library lib: 1 block (pair)")
    assert lines[2] == "3 files checked, 1 with errors"
    assert "error[E0103]: unclosed `(`" in err and f"{folder / 'nested' / 'a.arch'}: 1 error, 0 warnings" in err


def test_every_bundled_spec_checks_in_one_call(capsys):
    assert main(["compile", "--check", str(SPECS)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(list(SPECS.rglob("*.arch"))) + 1
    assert all(": ok: " in line for line in out[:-1])


def test_a_library_that_specs_use_is_parsed_once_in_a_run_and_again_once_edited(tmp_path, monkeypatch, capsys):
    from archdsl.syntax import parser

    (tmp_path / "lib.arch").write_text(LIBRARY)
    for name in ("a", "c"):
        (tmp_path / f"{name}.arch").write_text(f"network {name}\ninput 3x8x8\nuse lib\npair 4\n")
    parsed, original = [], parser._parse

    def counted(source, run=parser._run_tables):
        parsed.append(source.name)
        return original(source, run)

    monkeypatch.setattr(parser, "_parse", counted)
    monkeypatch.setattr(parser, "_remembered", OrderedDict())
    assert main(["compile", "--check", str(tmp_path)]) == 0
    lib = str(tmp_path / "lib.arch")
    assert parsed == [str(tmp_path / "a.arch"), lib, str(tmp_path / "c.arch")]  # lib.arch itself: remembered
    (tmp_path / "lib.arch").write_text(LIBRARY.replace("relu", "gelu"))
    parsed.clear()
    assert main(["compile", "--check", str(tmp_path / "a.arch")]) == 0
    assert parsed == [str(tmp_path / "a.arch"), lib]
    capsys.readouterr()


def test_json_gives_one_object_a_file_with_its_diagnostics(folder, capsys):
    assert main(["compile", "--check", "--format", "json", str(folder / "b.arch"), str(folder / "nested")]) == 1
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert err == ""
    assert [(r["file"], r["ok"], r.get("kind")) for r in records] == [
        (str(folder / "b.arch"), True, "network"), (str(folder / "nested" / "a.arch"), False, None),
        (str(folder / "nested" / "lib.arch"), True, "library")]
    assert (records[0]["network"], records[0]["params"], records[0]["macs"]) == ("good", 108, 3888)
    assert [d["code"] for d in records[1]["diagnostics"]] == ["E0103"]
    assert records[2]["blocks"] == ["pair"]


def test_one_spec_keeps_todays_output(capsys):
    assert main(["compile", "--check", str(SPECS / "resnet18.arch")]) == 0
    out = capsys.readouterr().out
    assert re.fullmatch(r"ok: resnet18: 11,689,512 parameters, 1\.814 GMACs at 3x224x224 -> 1000 \(\d+\.\d\ds\)\n", out)


def test_summary_over_several_files(folder, capsys):
    assert main(["summary", str(folder / "b.arch"), str(SPECS / "resnet18.arch")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{folder / 'b.arch'}: \ngood: 3x8x8 -> 4x6x6")
    assert f"{SPECS / 'resnet18.arch'}: \nresnet18: 3x224x224 -> 1000" in out
    assert out.endswith("2 files checked, 0 with errors\n")
    assert main(["summary", "--format", "json", str(folder)]) == 1
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["ok"] for r in records] == [True, False, True]
    assert records[0]["summary"]["network"] == "good" and records[0]["summary"]["layers"]


def test_several_specs_are_for_check_only(folder, capsys):
    assert main(["compile", str(folder / "b.arch"), str(folder / "b.arch")]) == 2
    assert "--check" in capsys.readouterr().err
    assert main(["compile", "--check", "--emit", "ir", str(folder)]) == 2


def _hooks() -> dict[str, str]:
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    ids = re.findall(r"^- id: (\S+)$", text, re.M)
    entries = re.findall(r"^  entry: (.+)$", text, re.M)
    assert re.findall(r"^  files: (.+)$", text, re.M) == [r"\.arch$"] * len(ids)
    return dict(zip(ids, entries))


def test_the_pre_commit_hooks_run_over_the_files_they_are_given(folder, capsys):
    hooks = _hooks()
    assert set(hooks) == {"archdsl-check", "archdsl-fmt"}
    files = [str(folder / "b.arch"), str(folder / "nested" / "lib.arch")]
    for entry in hooks.values():
        argv = shlex.split(entry)
        assert argv[0] == "archdsl"
        assert main(argv[1:] + files) == 0
    assert main(shlex.split(hooks["archdsl-check"])[1:] + [str(folder / "nested" / "a.arch"), *files]) == 1


def test_checking_imports_neither_networkx_nor_torch():
    import subprocess
    import sys

    code = ("import sys; from archdsl.cli import main; status = main(['compile', 'resnet18', '--check']); "
            "print(status, sorted(m for m in ('networkx', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.stdout.splitlines()[-1] == "0 []"


def test_the_parser_tables_are_cached_in_the_user_cache_folder_and_an_unusable_one_is_no_problem(tmp_path):
    import os
    import subprocess
    import sys

    code = ("from archdsl.diagnostics import Source; from archdsl.syntax.parser import parse; "
            "spec, d = parse(Source('t', 'network t\\ninput 3x8x8\\nconv 4 3x3\\n')); print(len(spec.statements), d)")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("ARCHDSL_NO_CACHE", None)
    for _ in range(2):  # the first run writes the table, the second reads it
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        assert (result.stdout, result.stderr) == ("3 []\n", "")
    assert len(list((tmp_path / "archdsl").glob("grammar-*.json"))) == 1
    for cached in (tmp_path / "archdsl").iterdir():  # a table that can be neither read nor written
        cached.unlink()
        cached.mkdir()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert (result.stdout, result.stderr) == ("3 []\n", "")
    (tmp_path / "other").write_text("")  # a cache folder that cannot be made
    env["XDG_CACHE_HOME"] = str(tmp_path / "other")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert (result.stdout, result.stderr) == ("3 []\n", "")
