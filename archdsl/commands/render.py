"""`archdsl render SPEC -o FILE`: an architecture diagram from the IR (no torch import).

.dot and .mmd are plain text; .svg, .png and .pdf are drawn by Graphviz's `dot`.
"""

from __future__ import annotations

import argparse

from archdsl.commands.common import EXIT_ERRORS, EXIT_OK, add_depth_argument, add_spec_arguments, load_for, report
from archdsl.diagnostics import error, escape_text


def output_path(text: str) -> str:
    """-o's file (argparse type): one whose suffix names a format we write, and not a directory."""
    import os

    from archdsl.backends.diagram.output import FORMATS, format_of

    if text.endswith(("/", os.sep)) or os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{escape_text(text)!r} is a directory: -o names the file to write, "
                                         "e.g. -o net.svg")
    if format_of(text) is None:
        raise argparse.ArgumentTypeError(f"cannot tell the format of {text!r}: name it with one of "
                                         + ", ".join(FORMATS))
    return text


#: Graphviz needs seconds and hundreds of MB for a 600 dpi PNG, and hangs on a negative one
MAX_DPI = 600


def dpi(text: str) -> int:
    """A PNG resolution from 1 to MAX_DPI (argparse type)."""
    if not text.isdecimal() or not 1 <= int(text) <= MAX_DPI:
        raise argparse.ArgumentTypeError(f"expected a resolution from 1 to {MAX_DPI}, got {text!r}")
    return int(text)


def register(subparsers) -> None:
    p = subparsers.add_parser("render", help="draw the network: SVG, PNG, PDF, DOT or Mermaid (no torch)",
                              description="Draw the network from its IR. Stages and blocks are clusters, "
                                          "repeated blocks fold into one box marked xN, edges carry tensor "
                                          "shapes, shortcuts are dashed.")
    add_spec_arguments(p)
    p.add_argument("-o", "--output", required=True, type=output_path, metavar="FILE",
                   help="where to write: .svg, .png, .pdf (these need Graphviz), .dot/.gv or .mmd (Mermaid)")
    add_depth_argument(p, "block")
    p.add_argument("--rankdir", choices=("TB", "LR"), default="TB", help="top to bottom (default) or left to right")
    p.add_argument("--dpi", type=dpi, default=96, help=f"resolution of PNG output (default 96, at most {MAX_DPI})")
    p.set_defaults(run=run)


def run(args) -> int:
    graph = load_for(args)
    if graph is None:
        return EXIT_ERRORS
    from archdsl.backends.diagram.output import RenderError, write_diagram

    try:
        written = write_diagram(graph, args.output, args.depth or "block", args.rankdir, args.dpi)
    except RenderError as exc:
        report([error(exc.code, exc.message, None, "", exc.help)], args)
        return EXIT_ERRORS
    print(written)
    return EXIT_OK
