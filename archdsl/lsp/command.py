"""`archdsl lsp`: the language server's command (pygls comes with `pip install 'archdsl[lsp]'`)."""

from __future__ import annotations

import sys


def register(commands) -> None:
    p = commands.add_parser("lsp", help="run the language server on standard input and output (for editors)")
    p.set_defaults(run=run)


def run(args) -> int:
    from archdsl.commands.common import EXIT_ERRORS, EXIT_OK
    from archdsl.diagnostics import error, render

    try:
        from archdsl.lsp.server import serve
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in ("pygls", "lsprotocol"):
            raise
        sys.stderr.write(render(error(
            "E0008", f"the language server needs {missing}, which is not installed", None, "",
            "install it with `pip install 'archdsl[lsp]'`")) + "\n")
        return EXIT_ERRORS
    serve()
    return EXIT_OK
