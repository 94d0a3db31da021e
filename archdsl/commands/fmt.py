"""`archdsl fmt [--check] [--diff] PATH...`: lay specs out in the canonical format.

The layout is archdsl.syntax.formatter's. Files are rewritten in place where they change;
`--check` and `--diff` change nothing. A spec with syntax errors is left alone and its
diagnostics are reported; the exit status is then 1, as it is for `--check` when a file
would change. `-` formats standard input to standard output.
"""

from __future__ import annotations

import argparse
import json
import sys

from archdsl.commands.common import EXIT_ERRORS, EXIT_OK, STDIN, STDIN_NAME, report
from archdsl.commands.files import read_spec, spec_paths
from archdsl.diagnostics import error, escape_text


def register(subparsers) -> None:
    p = subparsers.add_parser("fmt", help="lay specs out in the canonical format (in place)",
                              description="Rewrite .arch files in the canonical layout: indentation, aligned "
                                          "tables, spacing, comments kept where they are. The meaning never "
                                          "changes. A folder stands for the .arch files under it.")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help=".arch files or folders (their .arch files, recursively); - formats standard input to "
                        "standard output")
    p.add_argument("--check", action="store_true",
                   help="change nothing: list the files that would change, and exit 1 if there are any")
    p.add_argument("--diff", action="store_true", help="change nothing: print the changes as a unified diff")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="json: one object per file on stdout (file, status, diagnostics)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour the diagnostics (auto: when stderr is a terminal and NO_COLOR is unset)")
    p.set_defaults(run=run, strict=False)


def run(args) -> int:
    status = EXIT_OK
    for path in spec_paths(args.paths):
        outcome, diagnostics, output = format_file(path, args)
        if outcome == "error" or (outcome == "would reformat" and args.check):
            status = EXIT_ERRORS
        if args.format == "json":
            record = {"file": _name(path), "status": outcome, "diagnostics": [d.as_dict() for d in diagnostics]}
            if output:
                record["diff" if args.diff else "text"] = output
            print(json.dumps(record, ensure_ascii=False))
            continue
        sys.stdout.write(output)
        if outcome in ("reformatted", "would reformat") and path != STDIN:  # beside a diff, the list goes to stderr
            print(f"{outcome} {escape_text(_name(path))}", file=sys.stderr if args.diff else sys.stdout)
    return status


def format_file(path: str, args) -> tuple[str, list, str]:
    """Format one file: its outcome (`unchanged`, `reformatted`, `would reformat` or `error`), its
    diagnostics, and what goes to stdout (the diff with --diff; for `-`, the formatted text)."""
    from archdsl.syntax.formatter import format_source

    source, diagnostics = read_spec(path)
    text = None
    if source is not None:
        text, diagnostics = format_source(source)
    if text is None:
        if args.format == "text":
            report(diagnostics, argparse.Namespace(**{**vars(args), "spec": path}))
        return "error", diagnostics, ""
    if path == STDIN:
        changed = text != source.text
        if args.check or args.diff:
            return ("would reformat" if changed else "unchanged"), [], _diff(source.text, text, STDIN_NAME) * args.diff
        return ("reformatted" if changed else "unchanged"), [], text
    if _read_bytes(path) == text.encode("utf-8"):
        return "unchanged", [], ""
    if args.check or args.diff:
        return "would reformat", [], _diff(source.text, text, _name(path)) * args.diff
    return *_write(path, text, args), ""


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError:
        return None


def _write(path: str, text: str, args) -> tuple[str, list]:
    try:
        with open(path, "wb") as file:
            file.write(text.encode("utf-8"))
    except OSError as exc:
        diagnostics = [error("E0004", f"cannot write `{escape_text(path)}`: {exc.strerror or exc}", None, "",
                             "check the file's permissions; nothing else was changed")]
        if args.format == "text":
            report(diagnostics, argparse.Namespace(**{**vars(args), "spec": path}))
        return "error", diagnostics
    return "reformatted", []


def _diff(before: str, after: str, name: str) -> str:
    import difflib

    return "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), name, f"{name} (formatted)"))


def _name(path: str) -> str:
    return STDIN_NAME if path == STDIN else path
