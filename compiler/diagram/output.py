"""Writing a diagram to a file, its format chosen by the file's suffix.

DOT and Mermaid are text written here; SVG, PNG and PDF are drawn by Graphviz's
`dot` program through the `graphviz` package, both needed only for those.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from archdsl.ir.graph import Graph
from archdsl.backends.diagram.dot import to_dot
from archdsl.backends.diagram.mermaid import to_mermaid
from archdsl.backends.diagram.view import View, build_view
from archdsl.backends.summary.table import mib

#: file suffix -> format
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot", ".mmd": "mmd"}
DRAWN = ("svg", "png", "pdf")

INSTALL_DOT = ("install Graphviz: `sudo apt-get install graphviz` (Debian, Ubuntu), `brew install graphviz` "
               "(macOS) or `conda install graphviz`; or write .dot or .mmd, which need no Graphviz")


class RenderError(Exception):
    """A diagram could not be written: a missing tool or an unwritable file. `help` says what to do."""

    def __init__(self, code: str, message: str, help: str):
        super().__init__(message)
        self.code, self.message, self.help = code, message, help


def format_of(path: str | Path) -> str | None:
    """The format a file name asks for, or None if its suffix is not one we write."""
    return FORMATS.get(Path(path).suffix.lower())


def diagram_text(graph: Graph, fmt: str, depth: str | int = "block", rankdir: str = "TB",
                 dpi: int | None = None) -> str:
    """DOT or Mermaid text of `graph`."""
    return _text(build_view(graph, depth), fmt, rankdir, dpi)


def _text(view: View, fmt: str, rankdir: str, dpi: int | None) -> str:
    return to_mermaid(view, rankdir) if fmt == "mmd" else to_dot(view, rankdir, dpi)


def draw(dot_text: str, fmt: str) -> bytes:
    """Run Graphviz's `dot` on DOT text; the image's bytes."""
    if shutil.which("dot") is None:
        raise RenderError("E0005", f"drawing {fmt.upper()} needs Graphviz's `dot` program, which is not on PATH",
                          INSTALL_DOT)
    try:
        import graphviz
    except ImportError:
        raise RenderError("E0005", f"drawing {fmt.upper()} needs the `graphviz` Python package",
                          "archdsl depends on it, so this install lacks it: `python3 -m pip install graphviz`; "
                          "or write .dot or .mmd, which need neither") from None
    try:
        return graphviz.Source(dot_text).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise RenderError("E0005", f"drawing {fmt.upper()} needs Graphviz's `dot` program, which could not run",
                          INSTALL_DOT) from None


def write_diagram(graph: Graph, path: str | Path, depth: str | int = "block", rankdir: str = "TB",
                  dpi: int | None = None) -> str:
    """Write the diagram of `graph` to `path` (.svg, .png, .pdf, .dot/.gv or .mmd); what was
    written, in a line: `wrote r50.svg (SVG, 14 boxes at block depth, 40.2 KiB)`."""
    path = Path(path)
    fmt = format_of(path)
    if fmt is None:
        raise ValueError(f"cannot tell the format of `{path}`; use one of {', '.join(FORMATS)}")
    view = build_view(graph, depth)
    text = _text(view, fmt, rankdir, dpi if fmt == "png" else None)
    data = draw(text, fmt) if fmt in DRAWN else text.encode("utf-8")
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise RenderError("E0004", f"cannot write `{path}`: {exc.strerror or exc}",
                          "check that the folder exists and is writable") from None
    boxes = len(view.boxes()) - 2  # not the input and output ends
    return (f"wrote {path} ({'Mermaid' if fmt == 'mmd' else fmt.upper()}, {boxes} box{'es' if boxes != 1 else ''} "
            f"at {f'depth {depth}' if isinstance(depth, int) else f'{depth} depth'}, {mib(len(data))})")
