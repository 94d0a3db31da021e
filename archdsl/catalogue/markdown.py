"""docs/errors.md, written from the catalogue: `python3 -m archdsl.catalogue.markdown > docs/errors.md`."""

from __future__ import annotations

import sys

from archdsl.catalogue import Entry, entries, example_output

INTRO = """\
# Diagnostic codes

Every problem archdsl reports has a stable code, a severity, a message, the place in the
spec it is about (`file:line:col`, with the line shown and a caret under the spot), often a
second place that is involved (`:::`), and a `help` line with a concrete fix. Errors stop a
spec from compiling (exit status 1); warnings do not, unless `--strict` is given. In a
terminal the output is coloured (`--color always|never` to choose; `NO_COLOR` is honoured),
and `--format json` gives one JSON object per diagnostic instead.

`archdsl explain CODE` prints one of the entries below in the terminal. Each entry's broken
example and its output are checked by the test suite (`tests/test_catalogue.py`), and this
page is written from the catalogue in `archdsl/catalogue/entries/` by
`python3 -m archdsl.catalogue.markdown > docs/errors.md`; edit the entries, not this page.

| range | what |
|---|---|
| E00xx | reading the spec file, writing output |
| E01xx | syntax: characters, brackets, indentation, numbers |
| E02xx | names and statements: unknown words, duplicates, arguments, values, structure |
| E03xx | types: channels, sizes, groups, and the block types' own arithmetic |
| W04xx | warnings: legal but almost certainly not meant |
| E05xx | resource budget: networks too large to build |
| E9999 | an internal error: a bug in archdsl, never in the spec |
"""

JSON_SECTION_FILE = "json.md"


def entry_markdown(entry: Entry) -> str:
    """One entry as a section of docs/errors.md."""
    out = [f"## {entry.code}: {entry.title}", "", f"*{entry.severity}*", "", entry.explanation, ""]
    if entry.broken:
        out += ["Broken:", "", "```", entry.broken.rstrip(), "```", "",
                "What archdsl says:", "", "```", example_output(entry), "```", ""]
    if entry.fixed:
        out += ["Fixed:", "", "```", entry.fixed.rstrip(), "```", ""]
    if entry.command:
        out += ["Example:", "", "```sh", entry.command.rstrip(), "```", ""]
    return "\n".join(out)


def document() -> str:
    """The whole of docs/errors.md."""
    from importlib import resources

    index = ["| code | severity | meaning |", "|---|---|---|"]
    index += [f"| [{e.code}](#{anchor(e)}) | {e.severity} | {e.title} |" for e in entries().values()]
    json_part = resources.files("archdsl.catalogue").joinpath(JSON_SECTION_FILE).read_text(encoding="utf-8")
    sections = [entry_markdown(e) for e in entries().values()]
    return "\n".join([INTRO, *index, "", json_part.strip(), "", *sections]).rstrip() + "\n"


def anchor(entry: Entry) -> str:
    """The heading anchor of an entry in docs/errors.md (`e0201-unknown-layer-type-or-block-type`)."""
    words = f"{entry.code}: {entry.title}".lower()
    return "".join(c for c in words.replace(" ", "-") if c.isalnum() or c in "-_")


if __name__ == "__main__":
    sys.stdout.write(document())
