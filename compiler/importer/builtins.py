"""Where a built-in block type says what a found block does: DenseNet's dense layers as one `dense`
row (`denseblock1 dense [6, [[128,1x1],[32,3x3]]]`) and its transitions as `transition`, with the
names torchvision gives them, so the state_dict keys stay the same."""

from __future__ import annotations

import re

from archdsl.backends.importer.trace import shape
from archdsl.backends.importer.tree import Stmt
from archdsl.backends.importer.values import Param, Word, size, write_float


def use_builtins(root: Stmt, blocks: list) -> list:
    """Replace the uses of blocks that a built-in type matches; the blocks still used, in order."""
    _replace(root)
    used = set()
    _collect(root.body, used, {b.name: b for b in blocks})
    return [b for b in blocks if b.name in used]


def _replace(scope: Stmt) -> None:
    for i, st in enumerate(scope.body):
        table = _dense_table(st) if st.is_scope else None
        block = getattr(st, "block", None)
        compress = _compress(st.body if st.is_scope else block.body, st) if st.is_scope or block else None
        if table is not None:
            scope.body[i] = _row(st, "dense", [Word(table)], {})
        elif compress is not None and st.label:
            scope.body[i] = _row(st, "transition", [], {"compress": compress})
        elif st.is_scope:
            _replace(st)


def _row(st: Stmt, op: str, args: list, opts: dict) -> Stmt:
    row = Stmt(op, args, opts, st.inputs, st.value, st.name, st.fixed, path=st.path, node=st.node, label=st.label,
               refs=st.refs, position=st.position, value_in=st.value_in)
    return row


def _value(v, use: Stmt):
    """A template value in one use: a parameter by the use's argument, option or default."""
    if not isinstance(v, Param) or getattr(use, "block", None) is None:
        return v
    block = use.block
    given = dict(zip([p.name for p in block.required], use.args))
    return given.get(v.name, use.opts.get(v.name, block.defaults().get(v.name)))


def _dense_table(scope: Stmt) -> str | None:
    """`[n, [[c,1x1],[g,3x3]]]` where a scope's statements are uses denselayer1..n of one dense unit."""
    uses = scope.body
    if not uses or any(getattr(u, "block", None) is None or u.refs for u in uses):
        return None
    if [u.label for u in uses] != [f"denselayer{i + 1}" for i in range(len(uses))]:
        return None
    if any(u.op != uses[0].op or u.args != uses[0].args or u.opts != uses[0].opts for u in uses):
        return None
    convs = _dense_unit(uses[0])
    if convs is None:
        return None
    entries = ",".join(f"[{c},{k}x{k}]" for c, k in convs)
    return f"[{len(uses)}, [{entries}]]"


def _dense_unit(use: Stmt):
    """[(channels, kernel)] of a block whose body is torchvision's dense layer, else None."""
    body = use.block.body
    if len(body) % 3 != 1 or not body:
        return None
    convs = []
    for k in range(len(body) // 3):
        norm, relu, conv = body[3 * k:3 * k + 3]
        n = k + 1
        if (norm.label, norm.op, norm.opts) != (f"norm{n}", "bn", {}) or (relu.label, relu.op) != (f"relu{n}", "relu"):
            return None
        kernel = size(_value(conv.args[1], use)) if len(conv.args) == 2 else None
        if conv.label != f"conv{n}" or conv.op != "conv" or kernel is None or kernel[0] != kernel[1]:
            return None
        pad = _value(conv.opts.get("pad", 0), use)
        if {k2 for k2 in conv.opts} - {"pad"} or pad != kernel[0] // 2:
            return None
        convs.append((_value(conv.args[0], use), kernel[0]))
    last = body[-1]
    if (last.op, last.refs) != ("concat", ["input", f"conv{len(convs)}"]) or any(st.refs for st in body[:-1]):
        return None
    return convs


def _compress(body: list, use: Stmt):
    """The `compress=` of a scope, or a use of a block, that is torchvision's transition, else None."""
    if [(st.label, st.op) for st in body] != [("norm", "bn"), ("relu", "relu"), ("conv", "conv"), ("pool", "avgpool")]:
        return None
    norm, _, conv, pool = body
    out = _value(conv.args[0], use)
    pool_ok = _value(pool.args[0], use) == (2, 2) and pool.opts == {"stride": 2}
    channels = (shape(use.value_in) or (0, 0))[1]
    if norm.opts or set(conv.opts) or size(_value(conv.args[1], use)) != (1, 1) or not pool_ok or not channels:
        return None
    compress = out / channels
    text = write_float(compress)
    return compress if 0 < compress <= 1 and int(channels * float(text)) == out and re.fullmatch(r"[\d.]+", text) \
        else None


def _collect(body: list, used: set, blocks: dict) -> None:
    for st in body:
        if st.op in blocks and st.op not in used:
            used.add(st.op)
            _collect(blocks[st.op].body, used, blocks)
        if st.is_scope:
            _collect(st.body, used, blocks)
