"""`archdsl list [PATTERN]` and `archdsl show NAME`: the networks that can be named (no torch import)."""

from __future__ import annotations

import sys

from archdsl.commands.common import EXIT_ERRORS, EXIT_OK


def register(subparsers) -> None:
    p = subparsers.add_parser("list", help="list the bundled networks: parameters, MACs, input, source",
                              description="List the networks every command takes by name (the bundled specs, "
                                          "and those in the folders of ARCHDSL_PATH), with their size at their "
                                          "own input, worked out from the IR.")
    p.add_argument("pattern", nargs="?", default="*", help="a shell-style wildcard, e.g. 'resnet*' (default: all)")
    p.add_argument("--names", action="store_true", help="print the names only, one a line")
    p.set_defaults(run=run_list)
    p = subparsers.add_parser("show", help="print a bundled network's spec, to copy and edit",
                              description="Print the spec a network's name stands for; for a variant of a "
                                          "family spec, a first comment line says which values it sets.")
    p.add_argument("name", help="a name `archdsl list` shows")
    p.set_defaults(run=run_show)


def run_list(args) -> int:
    from archdsl import zoo

    names = zoo.list_models(args.pattern)
    for problem in zoo.problems():
        print(f"warning: {problem} (line skipped)", file=sys.stderr)
    if not names:
        print(f"error: no network matches `{args.pattern}`\n  = help: `archdsl list` shows them all", file=sys.stderr)
        return EXIT_ERRORS
    if args.names:
        print("\n".join(names))
        return EXIT_OK
    found = zoo.models()
    rows = [row(found[name]) for name in names]
    print(table([("name", "parameters", "MACs", "input", "source"), *rows]))
    return EXIT_OK


def row(model) -> tuple[str, ...]:
    """One network's line: its size at its own input, or what stops it loading."""
    from archdsl.api import analyse
    from archdsl.backends.summary.table import macs_text, totals

    graph, diagnostics = analyse(model.path, dict(model.params), model.input)
    if graph is None:
        first = next(d for d in diagnostics if d.is_error)
        return model.name, "-", "-", "-", f"{model.source} (does not load: {first.code} {first.message})"
    t = totals(graph)
    return model.name, f"{t.params:,}", macs_text(t.macs), str(graph.input_type), model.source


def table(rows: list[tuple[str, ...]]) -> str:
    """Columns padded to their widest cell; numbers (the 2nd and 3rd) to the right."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {1, 2}
    return "\n".join("  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(r, widths))).rstrip() for r in rows)


def run_show(args) -> int:
    from archdsl import zoo

    model = zoo.find(args.name)
    if model is None:
        hint = zoo.near_name(args.name) or "`archdsl list` shows the names"
        print(f"error: no bundled network `{args.name}`\n  = help: {hint}", file=sys.stderr)
        return EXIT_ERRORS
    try:
        text = model.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read `{model.path}`: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    if model.params or model.input:
        print(f"# {model.name}: {model.path.name} with {model.arguments()}")
    print(text, end="" if text.endswith("\n") else "\n")
    return EXIT_OK
