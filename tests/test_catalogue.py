"""The catalogue of codes: complete, every example produces its code, every fix is clean,
docs/errors.md is current, and JSON diagnostics validate against the documented schema."""

import json
import re
import shlex

import jsonschema
import pytest

from archdsl.api import analyse
from archdsl.catalogue import entries, example_output, lookup, parse_entry, CatalogueError
from archdsl.catalogue.markdown import document
from archdsl.cli import main
from archdsl.diagnostics import Source
from conftest import ROOT

ENTRIES = list(entries().values())
WITH_SPECS = [e for e in ENTRIES if e.broken]
#: codes whose example cannot run in a test: they need a 4 MiB file, a missing program or package, or a bug
NOT_RUNNABLE = {"E0003", "E0005", "E0006", "E0008", "E0701", "E0703", "E0804", "E9999"}
SCHEMA = json.loads((ROOT / "docs" / "diagnostic.schema.json").read_text())


def emitted_codes() -> set[str]:
    """Every code the sources can report, read off the code literals in archdsl/ and compiler/."""
    found = set()
    for path in [*ROOT.joinpath("archdsl").rglob("*.py"), *ROOT.joinpath("compiler").rglob("*.py")]:
        found |= set(re.findall(r"[\"\[]([EW]\d{4})[\"\]]", path.read_text()))
    return found


def test_every_reported_code_has_an_entry_and_every_entry_is_reported():
    assert emitted_codes() == set(entries())


@pytest.mark.parametrize("entry", WITH_SPECS, ids=[e.code for e in WITH_SPECS])
def test_broken_example_gets_its_code_first_and_the_fix_is_clean(entry):
    _, found = analyse(Source(entry.example_name, entry.broken))
    assert found, f"{entry.code}: the broken example checks clean"
    assert found[0].code == entry.code, [d.code for d in found]
    assert found[0].severity.value == entry.severity
    assert found[0].span is not None and found[0].help
    assert entry.fixed, f"{entry.code} has a broken example but no fix"
    graph, after = analyse(Source(entry.example_name, entry.fixed))
    assert graph is not None and after == [], [d.message for d in after]


@pytest.mark.parametrize("entry", WITH_SPECS, ids=[e.code for e in WITH_SPECS])
def test_json_output_validates_against_the_schema(entry, tmp_path, capsys):
    path = tmp_path / entry.example_name
    path.write_text(entry.broken)
    code = main(["compile", str(path), "--check", "--format", "json", "--strict"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err
    for line in err:
        record = json.loads(line)
        jsonschema.validate(record, SCHEMA)
        assert record["file"] == str(path)
    assert json.loads(err[0])["code"] == entry.code


COMMANDS = [e for e in ENTRIES if e.command and e.code not in NOT_RUNNABLE]


@pytest.mark.parametrize("entry", COMMANDS, ids=[e.code for e in COMMANDS])
def test_command_examples_report_their_code(entry, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    for line in entry.command.strip().splitlines():
        words = shlex.split(line)
        assert words[0] == "archdsl"
        assert main(words[1:]) == 1
        assert f"[{entry.code}]" in capsys.readouterr().err


def test_explain_prints_every_entry_with_the_live_output(capsys):
    for entry in ENTRIES:
        assert main(["explain", entry.code.lower()]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"{entry.code} ({entry.severity}): {entry.title}")
        if entry.broken:
            assert f"[{entry.code}]: " in out and f"--> {entry.example_name}:" in out


def test_explain_lists_codes_and_rejects_unknown_ones(capsys):
    assert main(["explain"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == list(entries())
    assert main(["explain", "E0999"]) == 1
    assert "no diagnostic code `E0999`" in capsys.readouterr().err


def test_lookup_normalises_codes():
    assert lookup("e304") is lookup("E0304") is entries()["E0304"]
    assert lookup("nonsense") is None


def test_malformed_entry_is_refused():
    with pytest.raises(CatalogueError):
        parse_entry("# not a code\nseverity: error\n")
    with pytest.raises(CatalogueError):
        parse_entry("# E0001: x\nseverity: error\n\n## Broken\n```sh\nls\n```\n")


def test_docs_errors_md_is_written_from_the_catalogue():
    on_disk = (ROOT / "docs" / "errors.md").read_text()
    assert on_disk == document(), "regenerate: python3 -m archdsl.catalogue.markdown > docs/errors.md"


def test_example_output_is_what_the_cli_prints(tmp_path, capsys, monkeypatch):
    entry = entries()["E0304"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / entry.example_name).write_text(entry.broken)
    assert main(["compile", entry.example_name, "--check"]) == 1
    assert capsys.readouterr().err.startswith(example_output(entry))
