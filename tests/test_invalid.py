"""Golden tests of what a user sees: one broken spec per diagnostic code, and its exact output.

Each `tests/invalid/<CODE>[-slug].arch` is a realistic spec with one mistake in it, and
`<CODE>` is the code its first diagnostic must have. Next to it, `<same name>.out` holds
exactly what

    archdsl compile tests/invalid/<name>.arch --check

prints to stderr when run from the repository root (so the file name in the output is the
relative path). The specs exit with status 1, except a warning's (`W...`), which exits 0
without `--strict`.

After an intended change to a message, regenerate the goldens and read their diff before
committing it:

    ARCHDSL_UPDATE_GOLDENS=1 python3 -m pytest -q tests/test_invalid.py

With `ARCHDSL_UPDATE_GOLDENS=1` the test writes each `.out` file instead of comparing it;
the exit status and the first code are still checked.
"""

import os
import re

import pytest

from archdsl.catalogue import entries
from archdsl.cli import main
from conftest import ROOT

INVALID = ROOT / "tests" / "invalid"
SPECS = sorted(INVALID.glob("*.arch"))
UPDATE = os.environ.get("ARCHDSL_UPDATE_GOLDENS") == "1"
FIRST_CODE = re.compile(r"^(?:error|warning)\[([EW]\d{4})\]: ", re.M)


def code_of(spec) -> str:
    """The code a spec's file name promises: `E0102` for `E0102-missing-comma.arch`."""
    return spec.stem.split("-", 1)[0]


def test_there_are_specs_and_each_is_named_by_its_code():
    assert SPECS
    for spec in SPECS:
        assert re.fullmatch(r"[EW]\d{4}(-[a-z0-9-]+)?", spec.stem), spec.name


@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_output_is_the_golden(spec, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    relative = spec.relative_to(ROOT).as_posix()
    status = main(["compile", relative, "--check"])
    err = capsys.readouterr().err
    assert status == (0 if code_of(spec).startswith("W") else 1)
    found = FIRST_CODE.search(err)
    assert found is not None, err
    assert found.group(1) == code_of(spec), err
    golden = spec.with_suffix(".out")
    if UPDATE:
        golden.write_text(err, encoding="utf-8")
    else:
        assert golden.exists(), f"no golden for {spec.name}: run with ARCHDSL_UPDATE_GOLDENS=1"
        assert err == golden.read_text(encoding="utf-8")


def test_every_golden_has_its_spec():
    assert sorted(p.stem for p in INVALID.glob("*.out")) == [s.stem for s in SPECS]


def test_every_code_with_a_broken_example_has_a_spec_here():
    covered = {code_of(s) for s in SPECS}
    missing = sorted(e.code for e in entries().values() if e.broken and e.code not in covered)
    assert missing == []
