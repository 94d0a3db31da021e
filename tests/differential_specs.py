"""Seeded, deterministic specs over the whole vocabulary, for tests/test_differential.py.

`spec(seed)` writes one spec from a random.Random(seed): a stem of layers, then a mix of plain
layers, named layers joined with `from` (add, mul, concat), residual blocks (with and without a
shortcut), concat branches, scopes, stage rows of every block type and uses of the blocks the
spec defines in the language (BLOCKS: conditions, `let`, `require`, `split`, activation
parameters, rows of each naming), then often a head.

The generator follows a rough idea of the value's shape (`Value`: spatial or flat, and its size),
so most specs check clean; those that do not are simply not run. Each op is one entry in LAYERS,
a function of (rng, value) that returns the layer's text or None where it does not apply, and
says what it does to the value: to add an op, add one entry.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Callable


@dataclass(frozen=True)
class Value:
    """What the generator believes about the current value: CxHxW (`size` = H = W) or flat."""

    spatial: bool = True
    size: int = 16


#: one layer: (rng, value) -> (text, value after it), or None where the op does not apply to `value`
LayerMaker = Callable[[random.Random, Value], "tuple[str, Value] | None"]


def _spatial(make: Callable[[random.Random, Value], tuple[str, Value]]) -> LayerMaker:
    return lambda rng, v: make(rng, v) if v.spatial else None


def _halved(v: Value) -> Value:
    return replace(v, size=max(1, (v.size + 1) // 2))


def _conv(rng: random.Random, v: Value):
    kernel, after = rng.choice([("1x1", v), ("3x3 pad=1", v), ("3x3 pad=same", v), ("3x3 /2 pad=1", _halved(v)),
                                ("1x3 pad=(0,1)", v), ("3x3 pad=2 dilation=2", v)])
    option = rng.choice(["", "", " bias=true", " groups=2"])
    return f"conv {rng.choice([4, 8, 16])} {kernel}{option}", after


def _bn(rng: random.Random, v: Value):
    if v.size < 2:  # torch needs more than one value per channel to train a batch norm at batch 1
        return None
    return "bn" + rng.choice(["", "", " eps=0.001", " momentum=0.2"]), v


def _pool(word: str):
    def make(rng: random.Random, v: Value):
        if v.size < 2:
            return None
        text = rng.choice([f"{word} 2x2 /2", f"{word} 3x3 /2 pad=1", f"{word} 3x3 /1 pad=1"])
        return text, (v if "/1" in text else _halved(v))
    return make


LAYERS: dict[str, LayerMaker] = {
    "conv": _spatial(_conv),
    "bn": _spatial(_bn),
    "relu": lambda rng, v: ("relu", v),
    "sigmoid": lambda rng, v: ("sigmoid", v),
    "identity": lambda rng, v: ("identity", v),
    "softmax": lambda rng, v: ("softmax", v),
    "dropout": lambda rng, v: (rng.choice(["dropout", "dropout 0.2", "dropout p=0.5"]), v),
    "zeropad": _spatial(lambda rng, v: ("zeropad 1", replace(v, size=v.size + 2))),
    "maxpool": _spatial(_pool("maxpool")),
    "avgpool": _spatial(_pool("avgpool")),
    "global_avgpool": _spatial(lambda rng, v: ("global_avgpool", replace(v, size=1))),
    "flatten": _spatial(lambda rng, v: ("flatten", Value(spatial=False, size=1))),
    "linear": lambda rng, v: None if v.spatial else (f"linear {rng.choice([4, 10])}{rng.choice(['', ' bias=false'])}",
                                                     v),
    **{act: (lambda word: lambda rng, v: (word, v))(act) for act in
       ("relu6", "hardswish", "hardsigmoid", "silu", "tanh", "mish")},
    "gelu": lambda rng, v: (rng.choice(["gelu", "gelu approximate=tanh"]), v),
    "leaky_relu": lambda rng, v: (rng.choice(["leaky_relu", "leaky_relu slope=0.2"]), v),
    "elu": lambda rng, v: (rng.choice(["elu", "elu alpha=0.5"]), v),
    "layernorm": lambda rng, v: (rng.choice(["layernorm", "layernorm eps=1e-6"]), v),
    # channels are even throughout (inputs of 2 or 4, convs of 4 to 16), so 2 groups always divide them
    "groupnorm": _spatial(lambda rng, v: (rng.choice(["groupnorm 2", "groupnorm 2 eps=1e-3"]), v)),
    "shuffle": _spatial(lambda rng, v: ("shuffle 2", v)),
    "position_linear": _spatial(lambda rng, v: (f"position_linear {rng.choice([4, 8])}", v)),
    "layer_scale": _spatial(lambda rng, v: (rng.choice(["layer_scale", "layer_scale init=0.1"]), v)),
    "stochastic_depth": lambda rng, v: (rng.choice(["stochastic_depth 0.2", "stochastic_depth 0.5 mode=batch"]), v),
    "adaptive_avgpool": _spatial(lambda rng, v: ("adaptive_avgpool 2", replace(v, size=2))),
    "adaptive_maxpool": _spatial(lambda rng, v: ("adaptive_maxpool 2", replace(v, size=2))),
    "upsample": _spatial(lambda rng, v: None if v.size > 16 else (
        rng.choice(["upsample scale=2", "upsample scale=2 mode=bilinear", "upsample scale=2 mode=bilinear "
                    "align_corners=true"]), replace(v, size=v.size * 2))),
    "deconv": _spatial(lambda rng, v: rng.choice([(f"deconv {rng.choice([4, 8])} 3x3 pad=1", v),
                                                  (f"deconv 4 2x2 /2", replace(v, size=v.size * 2))])
                       if v.size <= 16 else None),
}

#: blocks defined in the language, written at the top of every spec; each is used by
#: (rng, value) -> (use text, value after it), or None where it does not apply
BLOCKS = """block cba out kernel=3 stride=1 act=relu
  conv out kernel stride=stride pad=kernel // 2
  bn
  act

block inverted out expand=2 stride=1
  let hidden = input.channels * expand
  if expand != 1
    conv hidden 1x1
    relu6
  conv hidden 3x3 stride=stride pad=1 groups=hidden
  proj conv out 1x1
  if stride == 1 and input.channels == out
    add from input, proj

block gate squeeze=2 act=relu scale=sigmoid
  require squeeze >= 1
  global_avgpool
  conv max(1, input.channels // squeeze) 1x1 bias=true
  act
  conv input.channels 1x1 bias=true
  s scale
  mul from input, s

block halves
  parts split 2
  right cba input.channels // 2 kernel=1 act=silu from parts.1
  concat from parts.0, right
  shuffle 2
"""


def _use_cba(rng: random.Random, v: Value):
    stride = " /2" if rng.random() < 0.3 and v.size >= 2 else ""
    act = rng.choice(["", " act=hardswish", " act=none", " act=gelu"])
    repeat = rng.choice(["", "", " repeat=2", " repeat=2 names=flat", " repeat=2 names=prefixed"])
    return f"cba {rng.choice([4, 8])} kernel={rng.choice([1, 3])}{stride}{act}{repeat}", \
        (_halved(v) if stride else v)


def _use_inverted(rng: random.Random, v: Value):
    stride = " /2" if rng.random() < 0.3 and v.size >= 2 else ""
    return (f"inverted {rng.choice([4, 8])} expand={rng.choice([1, 2])}{stride}{rng.choice(['', ' repeat=2'])}",
            _halved(v) if stride else v)


USES: dict[str, LayerMaker] = {
    "cba": _spatial(_use_cba),
    "inverted": _spatial(_use_inverted),
    "gate": _spatial(lambda rng, v: (rng.choice(["gate", "gate squeeze=4 scale=hardsigmoid", "gate act=silu"]), v)),
    "halves": _spatial(lambda rng, v: ("halves", v)),
}

#: the joins: (rng, names of values that have the current value's shape) -> text
JOINS: dict[str, Callable[[random.Random, list[str]], str]] = {
    "add": lambda rng, names: "add from " + ", ".join(rng.sample(names, min(len(names), rng.choice([2, 3])))),
    "concat": lambda rng, names: "concat from " + ", ".join(rng.sample(names, min(len(names), 2))),
    "mul": lambda rng, names: "mul from " + ", ".join(rng.sample(names, 2)),
}

_ROW_TABLES = {
    "basic": lambda rng, c: f"[[{c},3x3],[{c},3x3]]",
    "bottleneck": lambda rng, c: f"[[{c},1x1],[{c},3x3],[{c * 2},1x1]]",
    "res2": lambda rng, c: f"[[{c * 2},1x1],[{c * 2},3x3],[{c * 4},1x1]]",
    "dense": lambda rng, c: f"[[{c},1x1],[{max(2, c // 2)},3x3]]",
}
#: options of each block type's `stages` line
STAGE_OPTIONS = {
    "basic": ["", " se=4", " shortcut=proj", " stride_at=3x3"],
    "bottleneck": ["", " groups=2", " se=4", " stride_at=3x3", " shortcut=proj", " shortcut=avgdown"],
    "res2": ["", " scales=2", " scales=4", " scales=2 groups=2"],
    "dense": ["", " out=8"],
}


class _Writer:
    """Writes statements, keeping the names defined so far and the current Value."""

    def __init__(self, rng: random.Random):
        self.rng, self.lines, self.value, self.count = rng, [], Value(), 0
        self.named: list[tuple[str, Value]] = []  # in order; names of the current value's shape may join

    def fresh(self) -> str:
        self.count += 1
        return f"v{self.count}"

    def layer(self, indent: str, name: bool = False, table: dict | None = None) -> None:
        table = LAYERS if table is None else table
        for _ in range(10):
            op = self.rng.choice(sorted(table))
            made = table[op](self.rng, self.value)
            if made is not None:
                text, self.value = made
                label = self.fresh() if name else None
                self.lines.append(indent + (f"{label} {text}" if label else text))
                if label:
                    self.named.append((label, self.value))
                return

    def join(self, indent: str) -> None:
        same = [n for n, v in self.named if v == self.value]
        if len(same) < 2:
            return self.layer(indent, name=True)
        word = self.rng.choice(sorted(JOINS))
        label = self.fresh()
        self.lines.append(f"{indent}{label} {JOINS[word](self.rng, same)}")
        if word == "concat":  # channels change, but the generator only tracks size
            self.named = [(n, v) for n, v in self.named if n != label]
        else:
            self.named.append((label, self.value))

    def residual(self, indent: str, depth: int) -> None:
        start = self.value
        self.lines.append(indent + "residual")
        self.body(indent + "  ", depth + 1, keep_size=True)
        if self.rng.random() < 0.5:
            self.lines.append(indent + "  shortcut")
            self.value = start
            self.body(indent + "    ", depth + 1, keep_size=True)
        self.value = start
        self.named = []  # a value inside a block is not visible after it unless scoped; keep it simple

    def branches(self, indent: str, depth: int) -> None:
        start = self.value
        self.lines.append(indent + "concat")
        for _ in range(self.rng.choice([1, 2, 3])):
            self.lines.append(indent + "  branch")
            self.value = start
            self.body(indent + "    ", depth + 1, keep_size=True)
        self.value = start
        self.named = []

    def scope(self, indent: str, depth: int) -> None:
        self.lines.append(f"{indent}scope s{self.fresh()}")
        self.body(indent + "  ", depth + 1)
        self.named = []

    def stages(self, indent: str) -> None:
        block = self.rng.choice(sorted(STAGE_OPTIONS) + ["dense+transition"])
        word = "dense" if block.startswith("dense") else block
        self.lines.append(f"{indent}stages {word}{self.rng.choice(STAGE_OPTIONS[word])}")
        for i in range(self.rng.choice([1, 2])):
            stride = " /2" if (i or self.rng.random() < 0.3) and self.value.size >= 2 and word != "dense" else ""
            c = self.rng.choice([4, 8])
            self.lines.append(f"{indent}  r{self.fresh()} [{self.rng.choice([1, 2])}, {_ROW_TABLES[word](self.rng, c)}]"
                              f"{stride}")
            if stride:
                self.value = _halved(self.value)
            if block == "dense+transition" and self.value.size >= 2:
                self.lines.append(f"{indent}  t{self.fresh()} transition{self.rng.choice(['', ' compress=0.5'])}")
                self.value = _halved(self.value)
        self.named = []

    def body(self, indent: str, depth: int, keep_size: bool = False) -> None:
        """One to four statements; inside a residual or concat branch (keep_size) only those that
        keep the value's size and kind, so the branches can meet."""
        start, first = self.value, len(self.lines)
        if keep_size:
            self.named = []  # names inside a branch are the branch's own
        for _ in range(self.rng.choice([1, 2, 3, 4])):
            kinds = ["layer", "layer", "named", "join", "use"] + (["residual", "branches", "scope", "stages"]
                                                           if depth < 2 and self.value.spatial else [])
            kind = self.rng.choice(kinds)
            if keep_size and kind in ("stages",):
                kind = "layer"
            before = self.value
            {"layer": lambda: self.layer(indent), "named": lambda: self.layer(indent, name=True),
             "join": lambda: self.join(indent), "use": lambda: self.layer(indent, table=USES), "residual": lambda: self.residual(indent, depth),
             "branches": lambda: self.branches(indent, depth), "scope": lambda: self.scope(indent, depth),
             "stages": lambda: self.stages(indent)}[kind]()
            if keep_size and self.value != start:  # undo: the branch must keep its shape
                self.lines.pop()
                self.value = before if before == start else start
        if len(self.lines) == first:
            self.lines.append(indent + "identity")


def spec(seed: int) -> str:
    """The spec of `seed`: same text on every run and every machine."""
    rng = random.Random(seed)
    writer = _Writer(rng)
    size = rng.choice([8, 16, 17])
    writer.value = Value(size=size)
    header = [f"network g{seed}", f"input {rng.choice([2, 4])}x{size}x{size}", BLOCKS]
    writer.layer("", name=True)
    writer.body("", 0)
    if rng.random() < 0.6 and writer.value.spatial:
        writer.lines += ["global_avgpool", "flatten", f"linear {rng.choice([3, 5])}"]
    return "\n".join(header + writer.lines) + "\n"


# --- token sequences (issue 24): an image cut into tokens, then ops on `n c` ----------------------
#
# `sequence_spec(seed)` returns the spec's text and the ops it wrote, each a tuple the test's own
# torch reference replays (tests/test_differential.py): every statement is named `sN`, so a weight's
# key is `sN.weight` (a learned tensor's is `tN`).

def _divisors(c: int) -> list[int]:
    return [h for h in (1, 2, 4) if c % h == 0]


class _Sequence:
    """Writes the sequence part of a spec: the current value is `n` tokens of `c` features, or a vector."""

    def __init__(self, rng: random.Random, n: int, c: int):
        self.rng, self.n, self.c, self.lines, self.ops, self.count = rng, n, c, [], [], 0

    def name(self, prefix: str = "s") -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def emit(self, text: str, op: tuple, prefix: str = "s") -> str:
        label = self.name(prefix)
        self.lines.append(f"{label} {text}")
        self.ops.append((label, *op))
        return label

    def step(self) -> None:
        rng, n, c = self.rng, self.n, self.c
        kind = rng.choice(["linear", "layernorm", "gelu", "attention", "tensor", "crop", "roll", "softmax",
                           "scalar", "matmul", "pad", "mul"])
        if kind == "linear":
            self.c = rng.choice([4, 8])
            self.emit(f"linear {self.c}", ("linear",))
        elif kind == "layernorm":
            eps = rng.choice([1e-5, 1e-6])
            self.emit(f"layernorm eps={eps}", ("layernorm", eps))
        elif kind == "gelu":
            self.emit("gelu", ("gelu",))
        elif kind == "attention":
            heads = rng.choice(_divisors(c))
            self.emit(f"attention {heads}", ("attention", heads))
        elif kind == "tensor":
            lead = rng.random() < 0.5
            before = f"s{self.count}"
            table = self.emit(f'tensor "n c" n={n} c={c} init=normal' + (" lead=true" if lead else ""), ("tensor",),
                              prefix="t")
            self.emit(f"add from {before}, {table}", ("add_tensor", table))
        elif kind == "crop" and n > 2:
            a = rng.randrange(0, n - 1)
            b = rng.randrange(a + 1, n + 1)
            self.n = b - a
            self.emit(f"crop n=({a}, {b})", ("crop", a, b))
        elif kind == "roll":
            axis = rng.choice(["n", "c"])
            shift = rng.randrange(1, 4)
            self.emit(f"roll {axis}={shift}", ("roll", 1 if axis == "n" else 2, shift))
        elif kind == "softmax":
            axis = rng.choice(["", " axis=n", " axis=c", " axis=0"])
            self.emit(f"softmax{axis}", ("softmax", 1 if axis in (" axis=n", " axis=0") else 2))
        elif kind == "scalar":
            word, value = rng.choice([("mul", 0.5), ("add", 1.5), ("sub", 0.25), ("div", 4.0)])
            self.emit(f"{word} {value}", ("scalar", word, value))
        elif kind == "matmul":  # a parameter-free attention of the tokens to one another
            x = f"s{self.count}"
            scores = self.emit(f"matmul transpose=true from {x}, {x}", ("scores",))
            self.emit("softmax", ("softmax", 2))
            self.emit(f"matmul from s{self.count}, {x}", ("apply", x))
        elif kind == "pad":
            before, after = rng.choice([(1, 0), (0, 2), (1, 1)])
            self.n += before + after
            self.emit(f"zeropad n=({before}, {after})", ("pad", before, after))
        elif kind == "mul" and self.count >= 2:
            self.emit(f"mul from s{self.count}, s{self.count}", ("square",))

    def finish(self) -> None:
        how = self.rng.choice(["select", "reduce", "keep"])
        if how == "select":
            index = self.rng.randrange(self.n)
            self.emit(f"select n={index}", ("select", index))
        elif how == "reduce":
            self.emit('reduce mean "n c -> c"', ("reduce_mean",))
        if how != "keep" and self.rng.random() < 0.7:
            self.emit(f"linear {self.rng.choice([3, 5])}", ("linear",))


def sequence_spec(seed: int) -> tuple[str, list[tuple]]:
    """A spec of `seed` that cuts its image into tokens and works on them, and the ops it wrote."""
    rng = random.Random(seed)
    channels, size = rng.choice([2, 4]), rng.choice([4, 8])
    w = _Sequence(rng, size * size, channels)
    embed = rng.choice(["flat", "patches", "conv"])
    if embed == "conv":
        w.c = 8
        w.emit("conv 8 2x2 /2 bias=true", ("conv",))
        w.n = (size // 2) ** 2
        w.emit('rearrange "c h w -> n=(h w) c"', ("flat",))
    elif embed == "patches":
        w.n, w.c = (size // 2) ** 2, 4 * channels
        w.emit('rearrange "c (h p1) (w p2) -> n=(h w) c=(p1 p2 c)" p1=2 p2=2', ("patches", 2))
    else:
        w.emit('rearrange "c h w -> n=(h w) c"', ("flat",))
    for _ in range(rng.randrange(2, 7)):
        w.step()
    w.finish()
    return "\n".join([f"network q{seed}", f"input {channels}x{size}x{size}", *w.lines]) + "\n", w.ops
