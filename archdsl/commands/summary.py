"""`archdsl summary SPEC`: the per-layer table and totals, from the IR alone (no torch import)."""

from __future__ import annotations

import json

from archdsl.commands.common import EXIT_ERRORS, EXIT_OK, add_depth_argument, add_spec_arguments, load_for


def register(subparsers) -> None:
    p = subparsers.add_parser("summary", help="per-layer shapes, parameters and MACs, and the totals (no torch)",
                              description="Print a per-layer table and the network's totals: trainable "
                                          "parameters, buffers, MACs of conv and linear layers (torchvision's "
                                          "convention), other FLOPs, activation memory, and the input "
                                          "sizes the network runs at.")
    add_spec_arguments(p)
    add_depth_argument(p, "the level of the stages")
    p.add_argument("--json", dest="format", action="store_const", const="json",
                   help="the same as --format json: the table as JSON on stdout, diagnostics as JSON on stderr")
    p.set_defaults(run=run)


def run(args) -> int:
    graph = load_for(args)
    if graph is None:
        return EXIT_ERRORS
    from archdsl.backends.summary.table import render_text, summarize

    from archdsl.ir.sizes import input_sizes

    summary = summarize(graph, args.depth)
    sizes = input_sizes(graph)  # None where it cannot be worked out simply: then nothing is said
    if args.format == "json":
        print(json.dumps({**summary.as_dict(), "input_sizes": sizes}, indent=2))
    else:
        print(render_text(summary) + (f"input sizes: {sizes} (the built module runs at these)\n" if sizes else ""),
              end="")
    return EXIT_OK
