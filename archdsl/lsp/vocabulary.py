"""The highlighting rules, once, for every highlighter: the Pygments lexer (archdsl.highlight) and
the TextMate grammar of the VS Code extension (editors/vscode/syntaxes/arch.tmLanguage.json,
written by `python -m archdsl.lsp.vocabulary`). The words come from the language's registries.

Each rule is a regular expression (in the subset Python's `re` and Oniguruma share) and the kind of
each of its groups (or of the whole match); a kind names a Pygments token type and a TextMate scope.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache

#: kind -> (Pygments token type, TextMate scope); a scope of None is left as the file's own
KINDS = {
    "space": ("Text.Whitespace", None),
    "comment": ("Comment.Single", "comment.line.number-sign.arch"),
    "keyword": ("Keyword", "keyword.control.arch"),
    "constant": ("Keyword.Constant", "constant.language.arch"),
    "word-operator": ("Operator.Word", "keyword.operator.word.arch"),
    "type": ("Name.Builtin", "support.type.arch"),
    "definition": ("Name.Variable", "variable.other.definition.arch"),
    "block-name": ("Name.Class", "entity.name.function.block.arch"),
    "library": ("Name.Namespace", "entity.name.namespace.arch"),
    "function": ("Name.Function", "support.function.arch"),
    "option": ("Name.Attribute", "variable.parameter.option.arch"),
    "name": ("Name", "variable.other.arch"),
    "size": ("Number.Size", "constant.numeric.size.arch"),
    "stride": ("Number.Stride", "constant.numeric.stride.arch"),
    "float": ("Number.Float", "constant.numeric.float.arch"),
    "integer": ("Number.Integer", "constant.numeric.integer.arch"),
    "operator": ("Operator", "keyword.operator.arch"),
    "punctuation": ("Punctuation", "punctuation.separator.arch"),
    "error": ("Error", "invalid.illegal.character.arch"),
}

NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*"
#: a word ends where no dot or dash continues it (`input.channels`, `block1-0` are names)
END = r"\b(?![.\-])"


@lru_cache(maxsize=None)
def language_words() -> dict[str, tuple[str, ...]]:
    """The words that get a kind of their own: `keyword` (structure, header and control words),
    `type` (layer types and built-in block types), `constant` and `word-operator`."""
    from archdsl.semantics.blocks import registry
    from archdsl.semantics.builder import HEADER_WORDS, STRUCTURE
    from archdsl.semantics.control import CONTROL
    from archdsl.semantics.ops import OPS

    return {"keyword": tuple(dict.fromkeys((*HEADER_WORDS, *STRUCTURE, *CONTROL, "output", "from"))),
            "constant": ("true", "false", "none"), "word-operator": ("and", "or", "not"),
            "type": tuple(dict.fromkeys((*OPS, *registry(), "split")))}


def _either(words) -> str:
    return "(?:" + "|".join(sorted(set(words), key=lambda w: (-len(w), w))) + ")"


@lru_cache(maxsize=None)
def rules() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(regular expression, kinds of its groups) in the order they are tried at each position."""
    words = language_words()
    reserved = _either(words["keyword"] + words["constant"] + words["word-operator"])
    known = _either(w for group in words.values() for w in group)
    types = _either(words["type"])
    return (
        (r"#.*$", ("comment",)),
        # a statement's own name before its type (`conv1  conv 64 7x7`, `relu relu`) or its stage table
        (rf"^([ \t]*)(?!{reserved}{END})({NAME})(?=[ \t]+(?:{types}{END}|\[))", ("space", "definition")),
        (rf"^([ \t]*)(?!{known}{END})({NAME})(?=[ \t]+[A-Za-z_])", ("space", "definition")),
        (r"[ \t\f\r]+|\n", ("space",)),  # a line end alone: the next line's start is a `^`
        (rf"(block)([ \t]+)({NAME})", ("keyword", "space", "block-name")),
        (rf"(use)([ \t]+)({NAME})", ("keyword", "space", "library")),
        (r"([A-Za-z_][A-Za-z0-9_]*)([ \t]*)(=)(?!=)", ("option", "space", "operator")),
        (r"[A-Za-z_][A-Za-z0-9_]*(?=\()", ("function",)),
        *((_either(words[kind]) + END, (kind,)) for kind in ("keyword", "constant", "word-operator", "type")),
        (r"[0-9]+(?:x[0-9]+)+\b", ("size",)),
        (r"(?<=[ \t])/[0-9]+\b", ("stride",)),
        (r"[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+", ("float",)),
        (r"[0-9]+", ("integer",)),
        (r"[A-Za-z_][A-Za-z0-9_]*(?:[.\-][A-Za-z0-9_]+)*", ("name",)),
        (r"==|!=|<=|>=|//|[<>+\-*/%=]", ("operator",)),
        (r"[\[\](),]", ("punctuation",)),
        (r"[^ \t\f\r\n]", ("error",)),
    )


def textmate_grammar() -> dict:
    """The TextMate grammar of `.arch` files, as VS Code (and any TextMate-grammar editor) reads it."""
    patterns = []
    for regex, kinds in rules():
        scopes = [KINDS[kind][1] for kind in kinds]
        if len(kinds) == 1:
            patterns.append({"match": regex, **({"name": scopes[0]} if scopes[0] else {})})
        else:
            captures = {str(i): {"name": s} for i, s in enumerate(scopes, 1) if s}
            patterns.append({"match": regex, "captures": captures})
    return {"$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
            "name": "archdsl", "scopeName": "source.arch", "fileTypes": ["arch"],
            "comment": "Written by `python -m archdsl.lsp.vocabulary` from archdsl's own words: do not edit.",
            "patterns": patterns}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(textmate_grammar(), indent=2) + "\n")
