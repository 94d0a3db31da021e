"""Highlighting: the Pygments lexer (archdsl.highlight) and the TextMate grammar of the VS Code
extension (editors/vscode) tokenize every bundled spec and library with no error token, and give
keywords, layer types, numbers, sizes, strides, options and comments their own types."""

import json
import shutil
import subprocess

import pytest

from conftest import ROOT, SPECS

pygments = pytest.importorskip("pygments")
from pygments.token import Comment, Error, Keyword, Name, Number, Operator  # noqa: E402

from archdsl.highlight import ArchLexer, Size, Stride, language_words  # noqa: E402

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
    assert (Name.Function, "half") in found and (Name.Namespace, "torchvision_blocks") in found
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
