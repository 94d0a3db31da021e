"""The catalogue of diagnostic codes: what each code means, a broken example and its fix.

One Markdown file per code in `entries/` (shipped with the package) is the single source
of `archdsl explain CODE` and of `docs/errors.md`. An entry looks like this:

    # E0304: groups do not divide the channels
    severity: error

    Prose explaining the check and why it exists.

    ## Broken
    ```arch
    ... a spec that gets this code ...
    ```

    ## Fixed
    ```arch
    ... the same spec, corrected ...
    ```

A code that no spec text can produce (a missing file, a failed render) shows a
```sh``` command under `## Example` instead of the two specs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

_HEADING = re.compile(r"^# ([EW]\d{4}): (.+)$")
_BLOCK = re.compile(r"^## (\w+)\n+```(\w+)\n(.*?)^```$", re.M | re.S)


@dataclass(frozen=True)
class Entry:
    """One code's page: title, severity, explanation and examples."""

    code: str
    title: str
    severity: str
    explanation: str
    broken: str = ""
    fixed: str = ""
    command: str = ""

    @property
    def example_name(self) -> str:
        """The file name the broken example is reported under."""
        return f"{self.code.lower()}.arch"


class CatalogueError(ValueError):
    """An entry file is malformed: a bug in archdsl's own data."""


def parse_entry(text: str) -> Entry:
    """An Entry from the text of one entry file."""
    lines = text.strip().splitlines()
    heading = _HEADING.match(lines[0]) if lines else None
    if heading is None or len(lines) < 2 or not lines[1].startswith("severity: "):
        raise CatalogueError(f"an entry starts with '# CODE: title' and 'severity: ...', got {lines[:2]}")
    body = "\n".join(lines[2:])
    first_block = body.find("\n## ")
    explanation = (body if first_block < 0 else body[:first_block]).strip()
    blocks = {name.lower(): (kind, code) for name, kind, code in _BLOCK.findall(body)}
    return Entry(code=heading[1], title=heading[2].strip(), severity=lines[1].split(":", 1)[1].strip(),
                 explanation=explanation, broken=_block(blocks, "broken", "arch"),
                 fixed=_block(blocks, "fixed", "arch"), command=_block(blocks, "example", "sh"))


def _block(blocks: dict, name: str, kind: str) -> str:
    found = blocks.get(name)
    if found is None:
        return ""
    if found[0] != kind:
        raise CatalogueError(f"the `{name}` block must be ```{kind}, not ```{found[0]}")
    return found[1]


@lru_cache(maxsize=1)
def entries() -> dict[str, Entry]:
    """Every catalogued code, in code order."""
    folder = resources.files("archdsl.catalogue").joinpath("entries")
    found = {}
    for item in sorted(folder.iterdir(), key=lambda f: f.name):
        if item.name.endswith(".md"):
            entry = parse_entry(item.read_text(encoding="utf-8"))
            if item.name != f"{entry.code}.md":
                raise CatalogueError(f"{item.name} holds the entry for {entry.code}")
            found[entry.code] = entry
    return found


def lookup(code: str) -> Entry | None:
    """The entry for `code` (any case, `e304` and `E0304` alike), or None."""
    code = code.strip().upper()
    if re.fullmatch(r"[EW]\d{1,4}", code):
        code = code[0] + code[1:].zfill(4)
    return entries().get(code)


def example_output(entry: Entry) -> str:
    """What the checker says about an entry's broken example, rendered as the CLI renders it."""
    from archdsl.api import analyse
    from archdsl.diagnostics import Source, render_all

    if not entry.broken:
        return ""
    _, diagnostics = analyse(Source(entry.example_name, entry.broken))
    return render_all(diagnostics)
