"""The parser runs lark's tables itself (archdsl.syntax.lalr): it must parse exactly as lark's own
parser does with the same grammar, options and layout, on every spec and on broken texts: the same
trees, spans included, and the same diagnostics."""

from __future__ import annotations

import dataclasses
import inspect
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from lark import Token as LarkToken
from lark.exceptions import UnexpectedCharacters
from lark.exceptions import UnexpectedToken as LarkUnexpectedToken

from archdsl.diagnostics import Source, Span
from archdsl.syntax import lalr
from archdsl.syntax import parser as P
from archdsl.syntax import tree as T
from archdsl.syntax.lalr import Token, UnexpectedCharacter, UnexpectedToken
from archdsl.syntax.layout import Indenter

ROOT = Path(__file__).resolve().parent.parent
MUTATIONS = 600
#: what a mutation inserts or writes over: brackets, operators, keywords, line breaks, indentation,
#: strides, sizes, and characters outside the language
PIECES = ["[", "]", "(", ")", ",", "=", "/2", "//", "/", " x ", "3x3", "from ", "not ", " or ", " and ", "#c", "\n",
          "\n  ", "\n    ", "\t", "-", "1.5", "2e3", '"a"', "é", "×", ":", "round(", "a.b", "a-b", " ", "==", "<",
          "%", "*", "+", "9999999999", "x", "0"]


def _ours(token: LarkToken) -> Token:
    return Token(token.type, token.value, token.start_pos, token.line, token.column, token.end_line, token.end_column)


def _theirs(token: Token) -> LarkToken:
    return LarkToken(token.type, token.value, token.start_pos, token.line, token.column, token.end_line,
                     token.end_column)


class _Layout:
    """The layout (syntax.layout.Indenter) as lark's post-lexer."""

    always_accept = lalr.ALWAYS_ACCEPT

    def process(self, stream):
        for token in Indenter().process(_ours(t) for t in stream):
            yield _theirs(token)


class _Reductions:
    """lark's transformer: each rule's children, tokens made ours, to the parse's reductions."""

    names = frozenset(P._Builder(None).reductions())

    def __init__(self):
        self.current: dict = {}

    def __getattr__(self, name: str):
        if name not in self.names:
            raise AttributeError(name)
        return lambda children: self.current[name]([_ours(c) if isinstance(c, LarkToken) else c for c in children])


@pytest.fixture(scope="module")
def lark_run():
    """A `run` for parser._parse by lark's own parser, its errors as the tables' parser raises them."""
    from lark import Lark

    reductions = _Reductions()
    parser = Lark(lalr.grammar_text(), postlex=_Layout(), transformer=reductions, **lalr.LARK_OPTIONS)

    def run(text: str, current: dict):
        reductions.current = current
        try:
            return parser.parse(text)
        except UnexpectedCharacters as exc:
            raise UnexpectedCharacter(exc.line, exc.column) from None
        except LarkUnexpectedToken as exc:
            raise UnexpectedToken(_ours(exc.token), set(exc.expected)) from None
    return run


def _texts() -> list[tuple[str, str]]:
    files = sorted(ROOT.glob("specs/**/*.arch")) + sorted(ROOT.glob("examples/**/*.arch")) + \
        sorted(ROOT.glob("tests/**/*.arch")) + [ROOT / "archdsl" / "prelude.arch"]
    return [(str(f.relative_to(ROOT)), f.read_bytes().decode("utf-8", "replace")) for f in files]


def _mutated(texts: list[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    rnd = random.Random(20261207)
    out = []
    for k in range(count):
        name, text = texts[k % len(texts)]
        chars = list(text)
        for _ in range(rnd.randint(1, 3)):
            pos = rnd.randrange(len(chars) + 1)
            roll = rnd.random()
            if roll < 0.45:
                chars.insert(pos, rnd.choice(PIECES))
            elif roll < 0.8 and chars:
                del chars[pos % len(chars):pos % len(chars) + rnd.randint(1, 4)]
            elif chars:
                chars[pos % len(chars)] = rnd.choice(PIECES)
        out.append((f"{name} (mutation {k})", "".join(chars)))
    return out


def _same(name: str, text: str, lark_run) -> None:
    ours = P._parse(Source(name, text))
    theirs = P._parse(Source(name, text), run=lark_run)
    assert repr(ours[1]) == repr(theirs[1]), name
    assert ours[0] == theirs[0], name
    if ours[0] is not None:  # equal trees may still differ in a span's end: compare everything
        assert repr(ours[0]) == repr(theirs[0]), name


def test_every_spec_parses_as_lark_parses_it(lark_run):
    texts = _texts()
    assert len(texts) > 100
    for name, text in texts:
        _same(name, text, lark_run)


def test_broken_texts_give_the_diagnostics_lark_gives(lark_run):
    mutated = _mutated(_texts(), MUTATIONS)
    broken = 0
    for name, text in mutated:
        _same(name, text, lark_run)
        broken += P._parse(Source(name, text))[0] is None
    assert broken > MUTATIONS // 3  # the mutations reach the error paths, not only harmless spaces


@pytest.mark.parametrize("text", [
    "", "\n", "# only a comment\n", "network t", "conv 64 3x3 /2\n  relu\n", "a = \n", "conv from\n",
    "[1, 2\n", "x (1 + 2\n", "block b\n  conv 3\n    relu\n", "stages\n\tconv 3\n  relu\n", "from from\n",
    "not not x\n", "conv 64 3x3 / 2\n", "conv [64, /2]\n", "x\n" * 3 + "  y\n z\n",
])
def test_edge_texts_parse_as_lark_parses_them(text, lark_run):
    _same("edge", text, lark_run)


def test_a_repetition_grows_its_list_in_place_so_a_long_one_is_not_copied_at_every_item():
    so_far = lalr._Inline(["a", "b"])
    assert lalr._splice([so_far, "c"], (0,)) is so_far == ["a", "b", "c"]
    assert lalr._splice(["x", lalr._Inline(["y", "z"]), "w"], (1,)) == ["x", "y", "z", "w"]
    long = "network t\ninput 3x8x8\n" + "relu\n" * 3000
    tree, found = P._parse(Source("long", long))
    assert found == [] and len(tree.statements) == 3002 and tree.statements[-1].span.line == 3002


def _python(code: str, env: dict) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                            cwd=ROOT)
    assert result.stderr == ""
    return result.stdout


def test_a_process_with_the_tables_cached_does_not_import_lark(tmp_path):
    code = ("import sys; from archdsl.diagnostics import Source; from archdsl.syntax.parser import parse; "
            "spec, d = parse(Source('t', 'network t\\ninput 3x8x8\\nconv 4 3x3\\n')); "
            "print(len(spec.statements), d, 'lark' in sys.modules)")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("ARCHDSL_NO_CACHE", None)
    assert _python(code, env) == "3 [] True\n"  # the first process builds the tables with lark
    assert _python(code, env) == "3 [] False\n"
    (cached,) = (tmp_path / "archdsl").glob("grammar-*.json")
    cached.write_text('{"format": 1, "states": [')  # a file cut short is built again
    assert _python(code, env) == "3 [] True\n"
    assert _python(code, env) == "3 [] False\n"


@pytest.mark.parametrize("cls", [Span, T.Int, T.Name, T.Option, T.Statement], ids=lambda c: c.__name__)
def test_a_value_made_at_once_has_every_field_and_compares_as_a_dataclass(cls):
    """Span and the syntax values the parser makes most set their fields in one step (their own
    __init__, not dataclass's): it must take every field, by name, and nothing else."""
    names = [f.name for f in dataclasses.fields(cls)]
    assert list(inspect.signature(cls.__init__).parameters)[1:] == names
    made = cls(**{name: f"<{name}>" for name in names})
    assert [getattr(made, name) for name in names] == [f"<{name}>" for name in names]
    assert made == cls(**{name: f"<{name}>" for name in names}) and dataclasses.replace(made) == made
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, names[-1], None)
