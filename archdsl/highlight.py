"""A Pygments lexer for `.arch` specs, so documentation (Sphinx, MkDocs, `pygmentize -l arch`)
highlights them. Importing this module imports pygments; nothing else in archdsl does.

Its word lists are the language's own (layer types, block types, structure and control words),
read from the semantics when the module is imported, so the lexer cannot fall behind them.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, Text

#: a size written with x (`3x3`, `3x224x224`) and a stride (`/2`): numbers of their own kinds
Size = Number.Size
Stride = Number.Stride


def language_words() -> dict[str, tuple[str, ...]]:
    """The words that get a token type of their own: `keywords` (structure, header and control
    words), `types` (layer types and built-in block types), `functions`, `constants`, `operators`."""
    from archdsl.semantics.blocks import registry
    from archdsl.semantics.builder import HEADER_WORDS, STRUCTURE
    from archdsl.semantics.control import CONTROL
    from archdsl.semantics.functions import FUNCTIONS
    from archdsl.semantics.ops import OPS

    return {"keywords": tuple(dict.fromkeys((*HEADER_WORDS, *STRUCTURE, *CONTROL, "output", "from"))),
            "types": tuple(dict.fromkeys((*OPS, *registry(), "split"))),
            "functions": tuple(FUNCTIONS), "constants": ("true", "false", "none"),
            "operators": ("and", "or", "not")}


_WORDS = language_words()


def _either(group) -> str:
    return "|".join(sorted(set(group), key=len, reverse=True))


_KNOWN = _either(w for group in _WORDS.values() for w in group)
_KEYWORDS = _either(_WORDS["keywords"] + _WORDS["constants"] + _WORDS["operators"])
_TYPES = _either(_WORDS["types"])
_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*"


class ArchLexer(RegexLexer):
    """archdsl's architecture-description language (`.arch`)."""

    name = "archdsl"
    aliases = ["arch", "archdsl"]
    filenames = ["*.arch"]
    mimetypes = ["text/x-archdsl"]
    url = "https://github.com/archdsl/archdsl"

    tokens = {
        "root": [
            (r"#.*$", Comment.Single),
            (r"\n", Text.Whitespace),
            # a statement's own name at the start of its line, before its type (`conv1  conv 64 7x7`,
            # `relu relu`) or its stage table (`layer1 [3, ...]`)
            (rf"^([ \t]*)(?!(?:{_KEYWORDS})\b)({_NAME})(?=[ \t]+(?:(?:{_TYPES})\b(?![.\-])|\[))",
             bygroups(Text.Whitespace, Name.Variable)),
            (rf"^([ \t]*)(?!(?:{_KNOWN})\b)({_NAME})(?=[ \t]+[A-Za-z_])", bygroups(Text.Whitespace, Name.Variable)),
            (r"[ \t\f\r]+", Text.Whitespace),
            (rf"(block)([ \t]+)({_NAME})", bygroups(Keyword, Text.Whitespace, Name.Function)),
            (rf"(use)([ \t]+)({_NAME})", bygroups(Keyword, Text.Whitespace, Name.Namespace)),
            (r"([A-Za-z_][A-Za-z0-9_]*)([ \t]*)(=)(?!=)", bygroups(Name.Attribute, Text.Whitespace, Operator)),
            (r"[A-Za-z_][A-Za-z0-9_]*(?=\()", Name.Function),
            (words(_WORDS["keywords"], suffix=r"\b(?![.\-])"), Keyword),
            (words(_WORDS["constants"], suffix=r"\b(?![.\-])"), Keyword.Constant),
            (words(_WORDS["operators"], suffix=r"\b(?![.\-])"), Operator.Word),
            (words(_WORDS["types"], suffix=r"\b(?![.\-])"), Name.Builtin),
            (r"[0-9]+(?:x[0-9]+)+\b", Size),
            (r"(?<=\s)/[0-9]+\b", Stride),
            (r"[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+", Number.Float),
            (r"[0-9]+", Number.Integer),
            (r"[A-Za-z_][A-Za-z0-9_]*(?:[.\-][A-Za-z0-9_]+)*", Name),
            (r"==|!=|<=|>=|//|[<>+\-*/%]", Operator),
            (r"[\[\](),]", Punctuation),
        ],
    }
