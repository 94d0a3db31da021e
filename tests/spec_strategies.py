"""Hypothesis strategies for tests/test_robustness.py: mutants of the bundled specs, and specs
generated from a small grammar of statements."""

from __future__ import annotations

import re

from hypothesis import strategies as st

from conftest import ROOT, bundled_specs

#: every bundled spec's text, by its path in the repository
SPECS = {path.relative_to(ROOT).as_posix(): path.read_text() for path in bundled_specs()}


# --- mutants of the bundled specs ------------------------------------------------------------

NUMBERS = st.one_of(st.sampled_from([0, 1, 2, 3, 7, 64, 100_000, 65_537, 999_999_999, 2**31, 2**40, 10**30]),
                    st.integers(0, 10**6))
WORDS = st.sampled_from(["conv", "bn", "relu", "linear", "flatten", "global_avgpool", "maxpool", "avgpool",
                         "dropout", "zeropad", "add", "concat", "residual", "shortcut", "branch", "scope",
                         "stages", "stem", "head", "body", "input", "network", "param", "default", "from",
                         "bottleneck", "basic", "dense", "transition", "res2", "groups=", "se=", "pad=same",
                         "stride_at=3x3", "shortcut=proj", "scales=", "/2", "x", "=", ",", "[", "]", "(", ")",
                         "+", "*", "//", "-", "#", "\t", "  ", "\n", "3x3", "0x0", "1e999", "0.5", "true",
                         "rearrange", "reduce", "softmax", "axis=", "roll", "crop", "select", "pad", "matmul",
                         "transpose=true", "tensor", "attention", "position_bias", "shift_mask", "lead=true",
                         "init=normal", "sub", "div", "mul", "layernorm", "gelu", '"c h w -> n=(h w) c"', '"',
                         "n=", "->", "(h w)", "h=()", "window=", "back=true", "let", "if", "select n=0"])
JUNK = st.one_of(st.text(max_size=8), st.binary(max_size=8).map(lambda b: b.decode("latin-1")),
                 st.sampled_from(["\x00", "\r", "\x0c", "\u2028", "\ufeff", "\x1b[31m", "é", "×", "\udcff"]))


def matches(text: str, pattern: str) -> st.SearchStrategy:
    """One of the places `pattern` matches in `text` (None when there is none)."""
    found = list(re.finditer(pattern, text))
    return st.sampled_from(found) if found else st.none()


@st.composite
def mutated_number(draw, text: str) -> str:
    match = draw(matches(text, r"\d+"))
    return text if match is None else text[:match.start()] + str(draw(NUMBERS)) + text[match.end():]


@st.composite
def mutated_lines(draw, text: str) -> str:
    lines = text.split("\n")
    i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
    how = draw(st.sampled_from(["drop", "duplicate", "swap", "indent", "dedent"]))
    if how == "drop":
        del lines[i]
    elif how == "duplicate":
        lines.insert(i, lines[j])
    elif how == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif how == "indent":
        lines[i] = draw(st.sampled_from([" ", "  ", "\t", "    "])) + lines[i]
    else:
        lines[i] = lines[i].lstrip()
    return "\n".join(lines)


@st.composite
def mutated_word(draw, text: str) -> str:
    match, other = draw(matches(text, r"[A-Za-z_]+")), draw(matches(text, r"[A-Za-z_]+"))
    if match is None:
        return text
    word = match.group()
    how = draw(st.sampled_from(["misspell", "replace", "swap"]))
    if how == "swap":
        first, second = sorted([match, other], key=lambda m: m.start())
        if first.end() > second.start():
            return text
        return (text[:first.start()] + second.group() + text[first.end():second.start()] + first.group()
                + text[second.end():])
    if how == "replace":
        word = draw(WORDS)
    else:
        k = draw(st.integers(0, len(word)))
        word = word[:k] + draw(st.sampled_from(["", "x", "_", "e"])) + word[k + 1:]
    return text[:match.start()] + word + text[match.end():]


@st.composite
def inserted(draw, text: str) -> str:
    at = draw(st.integers(0, len(text)))
    what = draw(st.one_of(
        WORDS.map(lambda w: f" {w} "), JUNK,
        st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
        st.integers(1, 3000).map(lambda n: "(" * n),
        st.integers(1, 500).map(lambda n: "+".join(["1"] * n)),
        st.tuples(st.sampled_from(["a ", "1,", "#", "x", "relu\n", "    "]), st.integers(1, 200_000))
          .map(lambda t: t[0] * t[1])))
    return text[:at] + what + text[at:]


@st.composite
def truncated(draw, text: str) -> str:
    return text[:draw(st.integers(0, len(text)))]


TEXT_MUTATIONS = [mutated_number, mutated_number, mutated_lines, mutated_word, mutated_word, inserted, truncated]


@st.composite
def mutant(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SPECS)))
    text = SPECS[name]
    for _ in range(draw(st.integers(1, 3))):
        text = draw(draw(st.sampled_from(TEXT_MUTATIONS))(text))
    data = text.encode("utf-8", errors="surrogatepass")
    if draw(st.integers(0, 9)) == 0:  # bytes that are not UTF-8, or a cut inside a character
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:] if draw(st.booleans()) else data[:at]
    return name, data


# --- specs generated from a small grammar of statements ---------------------------------------

SMALL = st.sampled_from([1, 2, 3, 4, 8, 16, 32, 64])
ANY = st.one_of(SMALL, SMALL, st.sampled_from([0, 5, 7, 1000, 999_999_999]))
KERNEL = st.sampled_from(["1x1", "3x3", "7x7", "(3,3)", "3", "0x3", "1x9"])
NAMES = st.sampled_from(["a", "b", "c", "conv1", "layer1", "x", "input", "w"])


_PLAIN_CONV = st.tuples(SMALL, st.sampled_from(["1x1", "3x3 pad=1", "3x3 pad=same /2"])).map(
    lambda t: f"conv {t[0]} {t[1]}")
_ANY_CONV = st.tuples(ANY, KERNEL, st.sampled_from(["", " /2", " /1", " pad=1", " pad=same", " groups=2",
                                                    " bias=true", " in=3", " dilation=2"])).map(
    lambda t: f"conv {t[0]} {t[1]}{t[2]}")
_INPUTS = st.lists(st.sampled_from(["a", "b", "conv1", "layer1", "input", "nope"]), min_size=1, max_size=3).map(
    lambda names: " from " + ", ".join(names))
#: patterns, good and bad, for the ops on named axes
PATTERN = st.sampled_from(['"c h w -> n=(h w) c"', '"c (h p1) (w p2) -> (h w) (p1 p2 c)" p1=2 p2=2',
                           '"c h w -> h w c"', '"n c -> c n"', '"c h w -> c"', '"a b -> b"', '"c h w"', '"->"',
                           '"c (h p) w -> h w c" p=3', '"(k c) -> k c" k=2', '"c h w -> c h=() w=()"', '""',
                           '"c h w -> n=(h w c) c"', '"c h w -> c=() h=() w=c"', '"(h w) c -> c h w" h=0',
                           '"c (h h) w -> c h w"', '"c ((h)) w -> c h w"', '"n c -> n=() c"', '"c h w -> x=(h w"',
                           '"b c h w -> b (h w) c"', '"c h w -> (h w) c" q=2', '"c h w -> 1 c"', "c h w"])
TENSOR_OP = st.one_of(
    PATTERN.map(lambda p: f"rearrange {p}"),
    st.tuples(st.sampled_from(["mean", "sum", "max", "l2", "min"]), PATTERN).map(lambda t: f"reduce {t[0]} {t[1]}"),
    st.sampled_from(["softmax axis=n", "softmax axis=c", "softmax axis=5", "softmax axis=-1", "select n=0",
                     "select n=1000", "select c=0 n=0", "select", "crop n=(1, 3)", "crop n=(3, 1)", "crop h=(0, 100)",
                     "crop n=1", "roll h=3 w=3", "roll n=1 back=true", "roll q=1", "roll", "zeropad h=1", "zeropad n=(0, 1)",
                     "zeropad c=(-1, 0)", "mul 0.5", "add 1", "sub 1 reverse=true", "div 0", "mul 1e999", "gelu",
                     "layernorm", "matmul", "matmul transpose=true", 'tensor "n c" n=1 c=8', 'tensor "n c" n=0 c=8',
                     'tensor "n c" n=1', 'tensor "n n" n=1', 'tensor "n c" n=1 c=8 init=bad', "tensor",
                     "position_bias window=7", "position_bias window=2 from t", "shift_mask window=7 shift=3 size=14x14",
                     "shift_mask window=0 size=1x1", "shift_mask window=2 shift=5 size=4x4", "attention",
                     "attention heads=0", "linear 8", "concat axis=n from a, b", "concat axis=q from a, b"]),
    ANY.map(lambda n: f"attention {n}"),
    st.tuples(st.sampled_from(["matmul", "matmul transpose=true", "sub", "div", "mul", "add"]), _INPUTS).map("".join),
)
LAYER = st.one_of(
    _PLAIN_CONV, _PLAIN_CONV, _ANY_CONV, st.sampled_from(["bn", "relu", "bn", "relu", "identity", "sigmoid"]),
    st.sampled_from(["softmax", "flatten", "global_avgpool", "maxpool 3x3 /2 pad=1", "avgpool 2x2 /2",
                     "dropout 0.2", "zeropad 1", "bn eps=0.001"]),
    ANY.map(lambda n: f"linear {n}"),
    st.tuples(st.sampled_from(["add", "concat", "mul", "relu"]), _INPUTS).map("".join),
)
_ENTRY = st.tuples(ANY, KERNEL).map(lambda t: f"[{t[0]},{t[1]}]")
ROWS = {block: st.tuples(ANY, st.lists(_ENTRY, min_size=n, max_size=n + 1), st.sampled_from(["", " /2", " /0"])).map(
            lambda t: f"[{t[0]}, [{', '.join(t[1])}]]{t[2]}")
        for block, n in {"bottleneck": 3, "basic": 2, "res2": 3, "dense": 2}.items()}
ROWS["transition"] = st.sampled_from(["transition", "transition compress=0.5", "transition compress=2"])
STAGE_OPTIONS = st.sampled_from(["", " groups=2", " se=4", " stride_at=3x3", " shortcut=proj", " scales=2"])


def _indent(lines: list[str]) -> list[str]:
    return ["  " + line for line in lines]


@st.composite
def statements(draw, depth: int) -> list[str]:
    """One to four statements: layers, named layers, and (above depth 3) blocks of statements."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["layer", "layer", "layer", "named"] + (["block"] if depth < 3 else [])))
        if kind == "block":
            out += draw(block_statement(depth))
        else:
            out.append((f"{draw(NAMES)} " if kind == "named" else "") + draw(LAYER))
    return out


@st.composite
def block_statement(draw, depth: int) -> list[str]:
    word = draw(st.sampled_from(["residual", "concat", "scope", "stem", "stages"]))
    if word == "stages":
        block = draw(st.sampled_from(sorted(ROWS)))
        rows = [f"{draw(NAMES)}{i} {draw(ROWS[block])}" for i in range(draw(st.integers(1, 3)))]
        return [f"stages {block}{draw(STAGE_OPTIONS)}"] + _indent(rows)
    if word == "concat":
        branches = []
        for _ in range(draw(st.integers(1, 3))):
            branches += ["branch"] + _indent(draw(statements(depth + 1)))
        return ["concat"] + _indent(branches)
    body = draw(statements(depth + 1))
    if word == "residual" and draw(st.booleans()):
        body += ["shortcut"] + _indent(draw(statements(depth + 1)))
    return [f"scope {draw(NAMES)}" if word == "scope" else word] + _indent(body)


@st.composite
def generated_spec(draw) -> str:
    c, h = draw(st.sampled_from([3, 3, 3, 1, 0])), draw(st.sampled_from([32, 32, 224, 8, 1, 65536]))
    header = ["network gen", f"input {c}x{h}x{h}"] if draw(st.integers(0, 19)) else ["network gen"]
    if draw(st.booleans()):
        header.append(f"param w = {draw(ANY)}")
    return "\n".join(header + draw(statements(0))) + "\n"


#: ops that apply to most token sequences, so that a share of the generated specs is accepted
SEQUENCE_OP = st.sampled_from(["layernorm", "gelu", "attention 1", "attention 2", "linear 8", "softmax axis=n",
                               "softmax", "mul 0.5", "roll n=1", "crop n=(0, 2)", "identity", "dropout 0.1",
                               "add from a, a", 'reduce mean "n c -> c"', "select n=1", "matmul from a, a",
                               "matmul transpose=true from a, a", "sub from a, a"])


@st.composite
def sequence_spec(draw) -> str:
    """An image made a token sequence, then the ops on named axes, good and bad, named or not."""
    c, h = draw(st.sampled_from([4, 8, 16])), draw(st.sampled_from([4, 8, 8, 14, 0, 1]))
    lines = ["network seq", f"input {c}x{h}x{h}", draw(st.sampled_from(
        ['a rearrange "c h w -> n=(h w) c"', 'a rearrange "c (h p1) (w p2) -> n=(h w) c=(p1 p2 c)" p1=2 p2=2',
         'a rearrange "c h w -> h w c"', "a conv 8 2x2 /2", "a identity"]))]
    for _ in range(draw(st.integers(1, 8))):
        lines.append((f"{draw(NAMES)} " if draw(st.booleans()) else "") + draw(st.one_of(SEQUENCE_OP, SEQUENCE_OP, TENSOR_OP)))
    return "\n".join(lines) + "\n"


#: the specs on named axes: the bundled transformers and docs/blocks.md's worked examples
def _worked_examples() -> dict[str, str]:
    doc = (ROOT / "docs" / "blocks.md").read_text()
    blocks = re.findall(r"^```[a-z]*\n(block .*?)^```", doc, re.S | re.M)
    tokens = {"multi_head_attention": 'rearrange "c h w -> n=(h w) c"\n'}  # the one that takes a sequence
    return {f"docs/blocks.md#{i}": f"network doc\ninput 16x8x8\n{b}\n{tokens.get(b.split()[1], '')}{b.split()[1]} 4\n"
            for i, b in enumerate(blocks)}


SEQUENCE_SPECS = {**{k: v for k, v in SPECS.items() if k.endswith(("vit.arch", "swin.arch"))}, **_worked_examples()}


@st.composite
def sequence_mutant(draw) -> tuple[str, bytes]:
    """A mutant of a spec on named axes (1 to 3 text mutations)."""
    name = draw(st.sampled_from(sorted(SEQUENCE_SPECS)))
    text = SEQUENCE_SPECS[name]
    for _ in range(draw(st.integers(1, 3))):
        text = draw(draw(st.sampled_from(TEXT_MUTATIONS))(text))
    return name, text.encode("utf-8", errors="surrogatepass")
