"""`compile --check` and `summary` over several specs in one process: PATH arguments naming
files and folders (see archdsl.commands.files). One result per file, in the order found; exit
status 1 if any file has an error. With `--format json`, one JSON object per file on stdout, its
diagnostics inside it; in text, diagnostics go to stderr as for one spec, then a last line
counts the files.
"""

from __future__ import annotations

import argparse
import gc
import json
import time

from archdsl.commands.common import EXIT_ERRORS, EXIT_OK, EXIT_USAGE, report
from archdsl.commands.files import load_file, spec_paths
from archdsl.diagnostics import escape_text


def check_many(args) -> int:
    """`compile --check PATH...`: each spec's verdict line (a library's, for block libraries)."""
    from archdsl.commands.verdicts import library_verdict, verdict
    from archdsl.semantics.userblocks import BlockLibrary

    def result(path, graph, seconds):
        if isinstance(graph, BlockLibrary):
            return library_verdict(graph, seconds), {"kind": "library", "name": graph.name,
                                                      "blocks": [b.name for b in graph.blocks]}
        if args.format == "json":
            return "", {"kind": "network", **_network_facts(graph)}
        return verdict(graph, seconds), {}

    return _each(args, library=True, result=result)


def summary_many(args) -> int:
    """`summary PATH...`: each network's table (a block library's verdict line)."""
    from archdsl.backends.summary.table import render_text, summarize
    from archdsl.commands.verdicts import library_verdict
    from archdsl.semantics.userblocks import BlockLibrary

    def result(path, graph, seconds):
        if isinstance(graph, BlockLibrary):
            return library_verdict(graph, seconds), {"kind": "library", "name": graph.name,
                                                      "blocks": [b.name for b in graph.blocks]}
        summary = summarize(graph, args.depth)
        text = f"\n{render_text(summary).rstrip()}\n" if args.format == "text" else ""
        return text, {"kind": "network", "summary": summary.as_dict() if args.format == "json" else None}

    return _each(args, library=True, result=result)


def _each(args, library: bool, result) -> int:
    paths = spec_paths(args.spec)
    failures = 0
    for k, path in enumerate(paths):
        failures += _one(path, args, library, result)
        # the command line pauses the cycle collector (archdsl.cli): collect what each spec left in
        # cycles; but after the first, keep what it imported and built (modules, validators, the
        # parser's tables) out of every later scan
        if k:
            gc.collect(0)
        else:
            gc.freeze()
    gc.unfreeze()
    if args.format == "text":
        print(f"{len(paths)} file{'' if len(paths) == 1 else 's'} checked, {failures} with errors")
    return EXIT_ERRORS if failures else EXIT_OK


def _one(path: str, args, library: bool, result) -> bool:
    """Check one file and print its result; whether it failed."""
    started = time.perf_counter()
    graph, diagnostics, failed = load_file(path, args, library)
    text, facts = result(path, graph, time.perf_counter() - started) if graph is not None else ("", {})
    if args.format == "json":
        print(json.dumps({"file": escape_text(path), "ok": not failed, **facts,
                          "diagnostics": [d.as_dict() for d in diagnostics]}, ensure_ascii=False))
        return failed
    report(diagnostics, argparse.Namespace(**{**vars(args), "spec": path}))
    if text:
        print(f"{escape_text(path)}: {text}")
    return failed


def _network_facts(graph) -> dict:
    from archdsl.backends.summary.table import totals

    t = totals(graph)
    return {"network": graph.name, "params": t.params, "macs": t.macs, "input": str(graph.input_type),
            "outputs": graph.outputs_text()}


def refuse(args) -> int | None:
    """Exit status 2 where several specs are given to a form that takes one (compile without --check)."""
    if args.check and not args.emit:
        return None
    import sys

    print("error: several specs (or a folder) are checked with --check, and only so (no --emit, -o or a "
          "module built); give one spec for the rest", file=sys.stderr)
    return EXIT_USAGE
