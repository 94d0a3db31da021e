"""A Pygments lexer for `.arch` specs, so documentation (Sphinx, MkDocs, `pygmentize -l arch`)
highlights them. Importing this module imports pygments; nothing else in archdsl does.

Its rules are archdsl.lsp.vocabulary's, which the VS Code extension's TextMate grammar is written
from too, and its words are the language's own: the highlighters cannot fall behind the language.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups
from pygments.token import Number, string_to_tokentype

from archdsl.lsp.vocabulary import KINDS, rules

#: a size written with x (`3x3`, `3x224x224`) and a stride (`/2`): numbers of their own kinds
Size = Number.Size
Stride = Number.Stride


def _token(kind: str):
    return string_to_tokentype(KINDS[kind][0])


def _tokens() -> list:
    out = []
    for regex, kinds in rules():
        action = _token(kinds[0]) if len(kinds) == 1 else bygroups(*map(_token, kinds))
        out.append((regex, action))
    return out


class ArchLexer(RegexLexer):
    """archdsl's architecture-description language (`.arch`)."""

    name = "archdsl"
    aliases = ["arch", "archdsl"]
    filenames = ["*.arch"]
    mimetypes = ["text/x-archdsl"]

    tokens = {"root": _tokens()}
