"""The language server (`archdsl lsp`): diagnostics, hover, definitions, completion, code actions
and an outline for `.arch` files, over the Language Server Protocol on stdio.

The analysis (`document`, `navigate`, `hover`, `assist`) is plain Python over the syntax tree and
the IR; only `server` imports pygls, and only `archdsl lsp` imports `server`.
"""
