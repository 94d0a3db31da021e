"""`archdsl summary SPEC`: the per-layer table and totals, from the IR alone (no torch import)."""

from __future__ import annotations

import argparse
import json

from archdsl.commands.common import EXIT_ERRORS, EXIT_OK, add_spec_arguments, load_for


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 up, got {text!r}")
    return int(text)


def register(subparsers) -> None:
    p = subparsers.add_parser("summary", help="per-layer shapes, parameters and MACs, and the totals (no torch)",
                              description="Print a per-layer table and the network's totals: trainable "
                                          "parameters, buffers, MACs of conv and linear layers (torchvision's "
                                          "convention), other FLOPs, activation memory.")
    add_spec_arguments(p)
    p.add_argument("--depth", type=positive, metavar="N",
                   help="show module paths down to N levels; deeper groups fold into one row "
                        "(default: the level of the stages)")
    p.add_argument("--json", action="store_true", help="print the same data as JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    graph = load_for(args)
    if graph is None:
        return EXIT_ERRORS
    from archdsl.backends.summary.table import render_text, summarize

    summary = summarize(graph, args.depth)
    print(json.dumps(summary.as_dict(), indent=2) if args.json else render_text(summary), end="\n" if args.json else "")
    return EXIT_OK
