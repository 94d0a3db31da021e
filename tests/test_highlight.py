"""Highlighting: the Pygments lexer (archdsl.highlight) and the TextMate grammar of the VS Code
extension (editors/vscode) tokenize every bundled spec and library with no error token, and give
keywords, layer types, numbers, sizes, strides, options and comments their own types."""

import json
import shutil
import subprocess

import pytest

from conftest import ROOT, SPECS

pygments = pytest.importorskip("pygments")
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, string_to_tokentype  # noqa: E402

from archdsl.highlight import ArchLexer, Size, Stride  # noqa: E402
from archdsl.lsp.vocabulary import KINDS, textmate_grammar  # noqa: E402

ALL_SPECS = sorted(SPECS.rglob("*.arch"))
#: token types every bundled spec must show (each spec has a comment, a keyword, a layer type, a number)
EVERYWHERE = (Comment.Single, Keyword, Name.Builtin, Number.Integer)


def tokens(text: str) -> list[tuple]:
    return [(t, v) for t, v in ArchLexer().get_tokens(text) if v.strip()]


@pytest.mark.parametrize("path", ALL_SPECS, ids=[p.relative_to(SPECS).as_posix() for p in ALL_SPECS])
def test_the_lexer_reads_every_bundled_spec_without_an_error_token(path):
    text = path.read_text()
    found = tokens(text)
    assert not [pair for pair in found if pair[0] in Error]
    assert "".join(v for _, v in ArchLexer().get_tokens(text)).rstrip("\n") == text.rstrip("\n")
    assert {t for t, _ in found} >= set(EVERYWHERE) or path.name == "models.txt"


def test_the_lexer_types_each_part_of_a_statement():
    text = (SPECS / "resnet50.arch").read_text()
    found = tokens(text)
    assert (Keyword, "network") in found and (Keyword, "stages") in found and (Keyword, "stem") in found
    assert (Name.Variable, "conv1") in found and (Name.Builtin, "conv") in found
    assert (Name.Builtin, "bottleneck") in found and (Name.Variable, "layer1") in found
    assert (Size, "7x7") in found and (Size, "3x224x224") in found and (Stride, "/2") in found
    assert (Name.Attribute, "pad") in found and (Name.Attribute, "stride_at") in found
    assert (Number.Integer, "64") in found
    assert any(t is Comment.Single and v.startswith("# ResNet-50") for t, v in found)


def test_the_lexer_tells_a_division_from_a_stride_and_reads_blocks():
    found = tokens("block half out\n  conv out/2 3x3 /2 pad=k // 2 eps=1e-5\nuse torchvision_blocks\n"
                   "  x add from a, b  # sum\n  let y = max(1, c * 2) if not true\n")
    assert (Name.Class, "half") in found and (Name.Namespace, "torchvision_blocks") in found
    assert (Stride, "/2") in found and (Operator, "/") in found and (Operator, "//") in found
    assert (Number.Float, "1e-5") in found and (Name.Function, "max") in found
    assert (Keyword, "from") in found and (Keyword, "let") in found and (Operator.Word, "not") in found
    assert (Keyword.Constant, "true") in found and (Comment.Single, "# sum") in found
    assert not [pair for pair in found if pair[0] in Error]


def test_the_lexer_marks_what_is_not_the_language():
    assert (Error, "×") in tokens("conv 64 3×3\n")


def test_the_lexer_is_found_by_its_alias_and_file_name():
    from pygments.lexers import find_lexer_class_by_name, get_lexer_for_filename

    assert find_lexer_class_by_name("arch") is ArchLexer  # the entry point in pyproject.toml
    assert isinstance(get_lexer_for_filename("net.arch"), ArchLexer)


VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "arch.tmLanguage.json"
#: TextMate scope -> the kind of token it marks, and the kind of each Pygments token type
SCOPE_KIND = {scope: kind for kind, (_, scope) in KINDS.items() if scope}
TOKEN_KIND = {string_to_tokentype(name): kind for kind, (name, _) in KINDS.items()}


def test_the_textmate_grammar_is_written_from_the_shared_rules():
    assert json.loads(GRAMMAR.read_text()) == textmate_grammar(), \
        "regenerate: python -m archdsl.lsp.vocabulary > editors/vscode/syntaxes/arch.tmLanguage.json"
    package = json.loads((VSCODE / "package.json").read_text())
    assert package["contributes"]["grammars"][0]["scopeName"] == textmate_grammar()["scopeName"]
    config = json.loads((VSCODE / "language-configuration.json").read_text())
    assert config["comments"]["lineComment"] == "#" and ["[", "]"] in config["brackets"]


def pygments_kinds(text: str) -> dict[tuple[int, int], str]:
    """The kind of each character that is not a space, by (line, column), as the lexer sees it."""
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    kinds = {}
    for index, token, value in ArchLexer(stripnl=False).get_tokens_unprocessed(text):
        line = max(n for n, start in enumerate(starts) if start <= index)
        for offset, char in enumerate(value):
            if not char.isspace():
                kinds[(line, index - starts[line] + offset)] = TOKEN_KIND[token]
    return kinds


def textmate_kinds(tokens: list[dict]) -> dict[tuple[int, int], str]:
    kinds = {}
    for token in tokens:
        scoped = [SCOPE_KIND[s] for s in token["scopes"] if s in SCOPE_KIND]
        for offset, char in enumerate(token["text"]):
            if not char.isspace():
                kinds[(token["line"], token["start"] + offset)] = scoped[-1] if scoped else "unscoped"
    return kinds


def test_the_textmate_grammar_tokenizes_every_spec_as_the_lexer_does():
    """Under node with vscode-textmate and Oniguruma, as VS Code runs it: every character of every
    bundled spec gets the kind the Pygments lexer gives it, and none is an error."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the TextMate grammar is tested under node")
    if not (VSCODE / "node_modules" / "vscode-textmate").is_dir():
        pytest.skip("editors/vscode/node_modules is missing: run `npm install --no-package-lock` in editors/vscode "
                    "(.ci/run does where npm is installed)")
    done = subprocess.run([node, "test/tokenize.js", *map(str, ALL_SPECS)], cwd=VSCODE, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["file"] for r in results] == list(map(str, ALL_SPECS))
    for path, result in zip(ALL_SPECS, results):
        seen = textmate_kinds(result["tokens"])
        assert "error" not in seen.values() and "unscoped" not in seen.values(), path
        expected = pygments_kinds(path.read_text())
        differ = {at: (seen.get(at), kind) for at, kind in expected.items() if seen.get(at) != kind}
        assert not differ, (path, sorted(differ.items())[:5])
    resnet = textmate_kinds(results[[p.name for p in ALL_SPECS].index("resnet50.arch")]["tokens"])
    assert {"keyword", "type", "definition", "size", "stride", "option", "integer", "comment"} <= set(resnet.values())


VIM = ROOT / "editors" / "vim"


def test_the_vim_syntax_is_written_from_the_shared_words():
    from archdsl.lsp.vocabulary import vim_syntax

    assert (VIM / "syntax" / "arch.vim").read_text() == vim_syntax(), \
        "regenerate: python -m archdsl.lsp.vocabulary vim > editors/vim/syntax/arch.vim"


def test_vim_highlights_a_spec_with_the_syntax_file(tmp_path):
    """Vim itself (where installed) reads editors/vim: the file type, and the syntax group at each
    kind of token of resnet50.arch, asked of Vim with synID()."""
    vim = shutil.which("vim") or shutil.which("nvim")
    if vim is None:
        pytest.skip("neither vim nor nvim is installed")
    text = (SPECS / "resnet50.arch").read_text().split("\n")
    conv1 = next(n for n, line in enumerate(text, 1) if line.startswith("  conv1"))
    places = {(2, 1): "archKeyword", (conv1, 3): "archDefinition", (conv1, 12): "archType",
              (conv1, 17): "archInteger", (conv1, 21): "archSize", (conv1, 24): "archStride",
              (conv1, 27): "archOption", (1, 1): "archComment"}
    assert text[conv1 - 1][23:25] == "/2" and text[conv1 - 1][26:29] == "pad"
    out = tmp_path / "groups.txt"
    script = tmp_path / "ask.vim"
    asks = " ".join(f"call add(out, synIDattr(synID({line}, {col}, 1), 'name'))" for line, col in places)
    script.write_text(f"set rtp^={VIM}\nfiletype plugin on\nsyntax on\nedit {SPECS / 'resnet50.arch'}\n"
                      f"let out = [&filetype]\n{asks.replace(' call', chr(10) + 'call')}\n"
                      f"call writefile(out, '{out}')\nqa!\n")
    subprocess.run([vim, "-Nu", "NONE", "-es", "-S", str(script)], stdin=subprocess.DEVNULL, capture_output=True,
                   timeout=60)
    assert out.read_text().split("\n")[:-1] == ["arch", *places.values()]
