"""The highlighting rules, once, for every highlighter: the Pygments lexer (archdsl.highlight), the
TextMate grammar of the VS Code extension (editors/vscode/syntaxes/arch.tmLanguage.json, written by
`python -m archdsl.lsp.vocabulary`) and a Vim syntax file with the same kinds (editors/vim, written
by `python -m archdsl.lsp.vocabulary vim`). The words come from the language's registries.

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
    "string": ("String.Double", "string.quoted.double.arch"),
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
    from archdsl.semantics import prelude
    from archdsl.semantics.blocks import registry
    from archdsl.semantics.builder import HEADER_WORDS, STRUCTURE
    from archdsl.semantics.control import CONTROL
    from archdsl.semantics.ops import OPS

    keywords = tuple(dict.fromkeys((*HEADER_WORDS, *STRUCTURE, *CONTROL, "output", "from")))
    return {"keyword": keywords, "constant": ("true", "false", "none"), "word-operator": ("and", "or", "not"),
            "type": tuple(w for w in dict.fromkeys((*OPS, *prelude.block_types(), *registry(), "split"))
                          if w not in keywords)}


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
        (r'"[^"\n]*"', ("string",)),  # an axis pattern: `rearrange "c h w -> n=(h w) c"`
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


#: Vim syntax group -> the highlight group it links to, for each kind the Vim syntax marks
VIM_GROUPS = {"comment": "Comment", "string": "String", "keyword": "Keyword", "constant": "Boolean", "word-operator": "Operator",
              "type": "Type", "definition": "Identifier", "block-name": "Function", "library": "Include",
              "function": "Function", "option": "Label", "size": "Number", "stride": "Special",
              "float": "Float", "integer": "Number"}


def vim_syntax() -> str:
    """The same kinds as a Vim syntax file (Vim and Neovim without a language server's help); Vim
    ranks its keywords above its matches, so a statement's name that is also a type shows as a type."""
    words = language_words()
    group = lambda kind: "arch" + "".join(part.title() for part in kind.split("-"))  # noqa: E731
    lines = ['" archdsl specs (.arch). Written by `python -m archdsl.lsp.vocabulary vim`: do not edit.',
             'if exists("b:current_syntax")', "  finish", "endif", ""]
    lines += [r'syn match archDefinition "^\s*\zs\h[[:alnum:]_]*\(-[[:alnum:]_]\+\)*\ze\s\+\(\h\|\[\)"',
              r'syn match archOption "\<\h\w*\ze\s*=\([^=]\|$\)"',
              r'syn match archFunction "\<\h\w*\ze("',
              r'syn match archBlockName "\(\<block\s\+\)\@<=\h\w*"',
              r'syn match archLibrary "\(\<use\s\+\)\@<=\h\w*"',
              r'syn match archInteger "\<\d\+\>"',
              r'syn match archFloat "\<\d\+\.\d*\([eE][-+]\=\d\+\)\=\|\<\d\+[eE][-+]\=\d\+\>"',
              r'syn match archSize "\<\d\+\(x\d\+\)\+\>"',
              r'syn match archStride "\s\zs/\d\+\>"']
    for kind in ("keyword", "constant", "word-operator", "type"):
        lines.append(f"syn keyword {group(kind)} " + " ".join(words[kind]))
    lines += [r'syn match archComment "#.*$"', r'syn match archString +"[^"]*"+', ""]
    lines += [f"hi def link {group(kind)} {target}" for kind, target in VIM_GROUPS.items()]
    lines += ["", 'let b:current_syntax = "arch"']
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["vim"]:
        sys.stdout.write(vim_syntax())
    else:
        sys.stdout.write(json.dumps(textmate_grammar(), indent=2) + "\n")
