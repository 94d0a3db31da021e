"""Commands that take several specs: PATH arguments naming files and folders.

A folder stands for the `.arch` files under it, recursively (block libraries included), in
sorted order; folders whose names start with `.` are skipped. Files are taken as given, whatever
their names; a path that does not exist, or a folder with no `.arch` file, is kept, for the
reader to refuse (E0001).
"""

from __future__ import annotations

import os
from pathlib import Path

from archdsl.commands.common import STDIN

SUFFIX = ".arch"


def spec_paths(paths: list[str]) -> list[str]:
    """The files the PATH arguments name, each once, in the order given."""
    found: list[str] = []
    for path in paths:
        under = _under(path) if path != STDIN and os.path.isdir(path) else []
        found += under or [path]  # a folder without specs is kept, for the reader to refuse
    return list(dict.fromkeys(found))


def _under(folder: str) -> list[str]:
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files += [os.path.join(root, name) for name in sorted(names) if name.endswith(SUFFIX)]
    return files


def is_many(paths: list[str]) -> bool:
    """Whether the arguments ask for the several-files form of a command: more than one path, or a
    folder holding specs (a folder without one is refused as one path is, E0001)."""
    return len(paths) > 1 or (paths[0] != STDIN and os.path.isdir(paths[0]) and bool(_under(paths[0])))


def read_spec(path: str):
    """(Source or None, diagnostics) for a PATH argument; `-` is standard input."""
    from archdsl.commands.common import read_stdin

    if path == STDIN:
        return read_stdin()
    from archdsl.sources import read_file

    return read_file(Path(path))


def load_file(path: str, args, library: bool):
    """(the graph or block library, or None; its diagnostics; whether they stop it) for one PATH,
    with the command line's -D, --input, --strict and limits."""
    from archdsl.api import analyse
    from archdsl.commands.common import limits_of, read_stdin
    from archdsl.diagnostics import Severity

    spec, diagnostics = read_stdin() if path == STDIN else (path, [])
    graph = None
    if spec is not None:
        graph, diagnostics = analyse(spec, dict(args.defines), args.input, limits_of(args), library=library)
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    failed = errors > 0 or (args.strict and len(diagnostics) > errors)
    return (None if failed else graph), diagnostics, failed
