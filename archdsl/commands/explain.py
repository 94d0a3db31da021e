"""`archdsl explain CODE`: what a diagnostic code means, a broken example, what archdsl says, the fix."""

from __future__ import annotations

import sys
import textwrap

from archdsl.commands.common import EXIT_ERRORS, EXIT_OK


def register(subparsers) -> None:
    p = subparsers.add_parser("explain", help="explain a diagnostic code, e.g. `archdsl explain E0304`",
                              description="Print the catalogue entry of a diagnostic code (docs/errors.md): "
                                          "what it means, a broken example, what archdsl says about it, "
                                          "and the fix. Without a code, list every code.")
    p.add_argument("code", nargs="?", help="a code such as E0304 (or e304); omit it to list them all")
    p.set_defaults(run=run)


def run(args) -> int:
    from archdsl.catalogue import entries, lookup

    if args.code is None:
        for entry in entries().values():
            print(f"{entry.code}  {entry.severity:<7}  {entry.title}")
        return EXIT_OK
    entry = lookup(args.code)
    if entry is None:
        from archdsl.diagnostics import did_you_mean

        hint = did_you_mean(args.code.upper(), entries()) or "`archdsl explain` lists every code"
        print(f"error: no diagnostic code `{args.code}`\n  = help: {hint}", file=sys.stderr)
        return EXIT_ERRORS
    print(explain_text(entry))
    return EXIT_OK


def explain_text(entry) -> str:
    """An entry as terminal text."""
    from archdsl.catalogue import example_output

    out = [f"{entry.code} ({entry.severity}): {entry.title}", "", _wrap(entry.explanation)]
    if entry.broken:
        out += ["", "Broken:", "", _indent(entry.broken), "", "archdsl says:", "", _indent(example_output(entry))]
    if entry.fixed:
        out += ["", "Fixed:", "", _indent(entry.fixed)]
    if entry.command:
        out += ["", "Example:", "", _indent(entry.command)]
    return "\n".join(out)


def _wrap(text: str) -> str:
    paragraphs = text.split("\n\n")
    return "\n\n".join(p if p.lstrip().startswith(("-", "|", "`")) else textwrap.fill(" ".join(p.split()), 88)
                       for p in paragraphs)


def _indent(text: str) -> str:
    return textwrap.indent(text.rstrip(), "    ")
