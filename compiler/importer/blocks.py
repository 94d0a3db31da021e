"""Repeated structure: scopes of one module class and one wiring become one `block` definition
whose differing values (channels, kernels, strides, groups, rates) are its parameters, and runs of
uses that differ only in the first one's stride become rows (`repeat=N`).

Scopes are taken innermost first, so a block's body may use the blocks found inside it
(an InvertedResidual's Conv2dNormActivation). A scope qualifies when its body reads nothing from
outside but its input (a block's body cannot see the spec's names).
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from dataclasses import dataclass, field

from archdsl.backends.importer.names import fresh
from archdsl.backends.importer.tree import Stmt
from archdsl.backends.importer.values import Param, Word, write_value

#: options a layer has whatever it says, with their defaults: a template lists them all, so that
#: `conv 64 3x3` and `conv 64 3x3 /2` share one wiring (the stride becomes a parameter)
DEFAULTS = {
    "conv": {"stride": 1, "pad": 0, "groups": 1, "dilation": 1},
    "deconv": {"stride": 1, "pad": 0, "groups": 1, "dilation": 1},
    "maxpool": {"pad": 0},
    "avgpool": {"pad": 0},
}

#: what a parameter standing for an argument is called, by layer type and position
ARGUMENT_ROLES = {("conv", 0): "c", ("deconv", 0): "c", ("linear", 0): "c", ("position_linear", 0): "c",
                  ("conv", 1): "k", ("deconv", 1): "k", ("maxpool", 0): "k", ("avgpool", 0): "k",
                  ("groupnorm", 0): "groups", ("shuffle", 0): "groups", ("dropout", 0): "p",
                  ("stochastic_depth", 0): "p", ("zeropad", 0): "pad"}

#: roles whose parameters may be one when their values agree (a depthwise conv's groups are its channels)
MERGEABLE = {"c": "c", "groups": "c"}

#: names a block may not take: the language's words and layer types
RESERVED = {"basic", "bottleneck", "res2", "dense", "transition", "se", "scope", "residual", "concat", "branch",
            "shortcut", "stages", "stem", "head", "body", "block", "use", "let", "if", "elif", "else", "require",
            "output", "network", "input", "param", "default", "split", "conv", "deconv", "bn", "layernorm",
            "groupnorm", "relu", "linear", "add", "mul", "flatten", "identity", "dropout", "upsample", "shuffle"}


@dataclass
class BlockParam:
    """A parameter: its name, its value in each instance, the role it plays, the default (or None)."""

    name: str
    values: tuple
    role: str
    slots: list = field(default_factory=list)
    default: object = None


class BlockDef:
    """A block definition: its parameters (those without a default first, `stride` last) and body."""

    def __init__(self, name: str, params: list[BlockParam], body: list[Stmt]):
        self.name, self.params, self.body = name, params, body

    @property
    def required(self) -> list[BlockParam]:
        return [p for p in self.params if p.default is None]

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params if p.default is not None}

    def lines(self) -> list[str]:
        from archdsl.backends.importer.write import write_body

        heads = [p.name if p.default is None else f"{p.name}={write_value(p.default)}" for p in self.params]
        return [" ".join(["block", self.name, *heads]), *write_body(self.body, 1)]


def find_blocks(root: Stmt) -> list[BlockDef]:
    """Replace repeated scopes of `root`'s tree by uses of block definitions (returned in the order
    they must be written: a block before those that use it), then runs of uses by rows."""
    blocks, done, names = [], set(), set()  # block names: a name space of their own
    while True:
        ready = [s for s in _scopes(root) if id(s) not in done and all(id(c) in done for c in s.body if c.is_scope)]
        if not ready:
            break
        groups = defaultdict(list)
        for scope in ready:
            done.add(id(scope))
            if _self_contained(scope):
                groups[(scope.cls, _signature(scope.body))].append(scope)
        for (cls, _), members in groups.items():
            if len(members) > 1 or not all(_scope_name(m.label) for m in members):
                blocks.append(_define(cls, members, names))
    _rows(root, {b.name: b for b in blocks})
    _check_scope_names(root)
    return blocks


def _scope_name(label: str | None) -> bool:
    """Whether `scope LABEL` can be written: a plain name (a dashed one, RegNet's `block1-0`, can only name a
    statement, so such a module is written as the use of a block even where it is the only one)."""
    return label is None or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", label) is not None


def _check_scope_names(stmt: Stmt) -> None:
    from archdsl.backends.importer.refusal import refuse, user_line

    for child in stmt.body or []:
        if child.is_scope and not _scope_name(child.label):
            refuse("E0805", f"`{child.path}` ({child.cls.__name__ if child.cls else 'a module'}) has a name no scope "
                            "can have, and is no block", label="made here",
                   where=user_line(child.node.meta.get("stack_trace")) if child.node is not None else None,
                   help="a scope's name is letters, digits and `_`; rename the module, or give it a class of its own")
        _check_scope_names(child)


def _scopes(stmt: Stmt):
    for child in stmt.body or []:
        if child.is_scope:
            yield from _scopes(child)
            yield child


def _self_contained(scope: Stmt) -> bool:
    """A scope a block can stand for: an instance of a class of its own (a plain nn.Sequential is only a
    container: its scope stays). Values it reads from outside besides its input become parameters."""
    import torch.nn as nn

    from archdsl.backends.importer.names import STATEMENT_WORDS

    containers = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
    return not (scope.cls is None or scope.cls in containers or scope.label in STATEMENT_WORDS)


def _defaults(st: Stmt) -> dict:
    block = getattr(st, "block", None)
    return block.defaults() if block is not None else DEFAULTS.get(st.op, {})


def _canonical(st: Stmt) -> dict:
    return {**_defaults(st), **st.opts}


def _role(st: Stmt, i: int) -> str:
    block = getattr(st, "block", None)
    if block is not None:
        return block.required[i].name
    return ARGUMENT_ROLES.get((st.op, i), "v")


def _is_slot(value) -> bool:
    """A value a block parameter can carry: a number or a size (words and true/false stay in the wiring)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float)) or (isinstance(value, tuple) and all(isinstance(v, int) for v in value))


def _signature(body: list[Stmt], names: dict | None = None):
    """The wiring of a body with its numbers left out: what two instances of one block share. Names the
    importer made up (`add_2`, `parts_3`) count by their order, not their spelling."""
    names = {head: f"@{i}" for i, head in enumerate(_outer_refs(body))} if names is None else names
    parts = []
    for st in body:
        label = st.label
        if label and not st.fixed:
            label = names.setdefault(label, f"#{len(names)}")
        refs = tuple(_renamed(r, names) for r in st.refs)
        args = tuple("#" if _is_slot(a) else a for a in st.args)
        opts = tuple((k, "#" if _is_slot(v) else v) for k, v in _canonical(st).items())
        inner = _signature(st.body, names) if st.is_scope else None
        parts.append((label, st.op, refs, args, opts, inner))
    return tuple(parts)


def _outer_refs(body: list[Stmt]) -> list[str]:
    """The names a body reads from outside itself (a U-Net's skip), in the order it reads them."""
    inner, found = set(), []
    for st in _walk(body):
        inner.add(st.label or str(st.position))
    for st in _walk(body):
        for ref in st.refs:
            head = ref.partition(".")[0]
            if head != "input" and head not in inner and head not in found:
                found.append(head)
    return found


def _walk(body: list[Stmt]):
    for st in body:
        yield st
        if st.is_scope:
            yield from _walk(st.body)


def _renamed(ref: str, names: dict) -> str:
    head, dot, rest = ref.partition(".")
    return names.get(head, head) + dot + rest


def _slots(body: list[Stmt], out: list) -> list:
    """(statement, where, role, value) for every number of a body, in a fixed order."""
    for st in body:
        for i, a in enumerate(st.args):
            if _is_slot(a):
                out.append((st, ("arg", i), _role(st, i), a))
        for k, v in _canonical(st).items():
            if _is_slot(v):
                out.append((st, ("opt", k), k, v))
        if st.is_scope:
            _slots(st.body, out)
    return out


def _define(cls, members: list[Stmt], taken: set[str]) -> BlockDef:
    """One definition for the scopes `members`, each replaced in place by a use of it."""
    body = [_copy(st) for st in members[0].body]
    template = _slots(body, [])
    columns = [[value for *_, value in _slots(m.body, [])] for m in members]
    params = []
    for i, (st, where, role, value) in enumerate(template):
        values = tuple(c[i] for c in columns)
        if len(set(values)) == 1:
            continue
        kind = _kind(role)
        param = next((p for p in params if p.values == values and _kind(p.role) == kind), None)
        if param is None:
            param = BlockParam(_param_name(role, [p.name for p in params]), values, role)
            params.append(param)
        param.slots.append((st, where))
    params = _values_read(body, members) + _derive(params)
    for param in params:
        if param.role == "value":
            continue
        for st, where in param.slots:
            _set(st, where, Param(param.name))
        param.default = 1 if param.name == "stride" else _common(param.values)
    params.sort(key=lambda p: (p.name == "stride", p.default is not None))
    block = BlockDef(_block_name(cls, taken), params, _drop_defaults(body))
    for j, member in enumerate(members):
        member.op, member.body, member.block = block.name, None, block
        member.args = [p.values[j] for p in block.required]
        member.opts = {p.name: p.values[j] for p in params if p.default is not None and p.values[j] != p.default}
    return block


def _values_read(body: list[Stmt], members: list[Stmt]) -> list[BlockParam]:
    """A parameter for each value the instances read from outside (`skip`, `skip2`), passed by name."""
    heads = [_outer_refs(m.body) for m in members]
    params = []
    for i, head in enumerate(heads[0]):
        name = "skip" if i == 0 else f"skip{i + 1}"
        params.append(BlockParam(name, tuple(Word(h[i]) for h in heads), "value"))
        for st in _walk(body):
            st.refs = [name + ref[len(head):] if ref.partition(".")[0] == head else ref for ref in st.refs]
    return params


def _kind(role: str) -> str:
    """What a role stands for, whatever its number: `c2` is channels, like `c`."""
    base = role.rstrip("0123456789") or role
    return MERGEABLE.get(base, base)


def _derive(params: list[BlockParam]) -> list[BlockParam]:
    """Square kernels as one number (`3`), and a padding of (k - 1) // 2 written so, not as a parameter."""
    for p in params:
        if _kind(p.role) == "k" and all(isinstance(v, tuple) and len(set(v)) == 1 for v in p.values):
            p.values = tuple(v[0] for v in p.values)
    kept = []
    for p in params:
        kernel = next((k for k in params if _kind(k.role) == "k" and all(isinstance(v, int) for v in k.values)
                       and all(pad == (v - 1) // 2 for pad, v in zip(p.values, k.values))), None)
        if _kind(p.role) == "pad" and kernel is not None:
            for st, where in p.slots:
                _set(st, where, Word(f"({kernel.name} - 1) // 2"))
        else:
            kept.append(p)
    return kept


def _common(values: tuple):
    """The value most instances have, as a default, where at least half have it (and two or more)."""
    best = max(set(values), key=values.count)
    return best if values.count(best) >= max(2, (len(values) + 1) // 2) else None


def _copy(st: Stmt) -> Stmt:
    """A statement for a template: its own arguments, options and body; values and nodes shared."""
    twin = copy.copy(st)
    twin.args, twin.opts, twin.refs = list(st.args), dict(st.opts), list(st.refs)
    twin.body = [_copy(child) for child in st.body] if st.is_scope else None
    return twin


def _set(st: Stmt, where, value) -> None:
    kind, key = where
    if kind == "arg":
        st.args[key] = value
    else:
        st.opts = {**_canonical(st), key: value}


def _drop_defaults(body: list[Stmt]) -> list[Stmt]:
    """The template's options that say only what the layer does anyway are left out."""
    for st in body:
        defaults = _defaults(st)
        st.opts = {k: v for k, v in st.opts.items() if not (k in defaults and v == defaults[k])}
        if st.is_scope:
            _drop_defaults(st.body)
    return body


def _param_name(role: str, names: list[str]) -> str:
    base = role.rstrip("0123456789") or role
    if base not in names:
        return base
    n = 2
    while f"{base}{n}" in names:
        n += 1
    return f"{base}{n}"


def _block_name(cls, taken: set[str]) -> str:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", cls.__name__).lower()
    snake = re.sub(r"\W", "_", snake).strip("_") or "block"
    from archdsl.semantics import prelude

    if snake in RESERVED or snake in prelude.names() or not snake[:1].isalpha():
        snake = f"{snake}_block"
    return fresh(snake, taken)


def _rows(scope: Stmt, blocks: dict) -> None:
    """Runs of uses of one block, with the same arguments and implicit flow, as rows."""
    for child in scope.body:
        if child.is_scope:
            _rows(child, blocks)
    body, i = [], 0
    while i < len(scope.body):
        run = _run(scope.body, i, blocks)
        first = scope.body[i]
        if len(run) > 1:
            first.opts = {**first.opts, "repeat": len(run)}
            if first.label is None:
                first.opts["names"] = "flat"
        body.append(first)
        i += len(run)
    scope.body = body
    _nest(scope)


def _run(body: list[Stmt], i: int, blocks: dict) -> list[Stmt]:
    first = body[i]
    if first.op not in blocks or first.label is not None:
        return [first]
    run = [first]
    for st in body[i + 1:]:
        if (st.op != first.op or st.args != first.args or st.opts != _unstrided(first.opts) or st.refs
                or st.label is not None
                or st.position != run[-1].position + 1):
            break
        run.append(st)
    return run


def _unstrided(opts: dict) -> dict:
    return {k: v for k, v in opts.items() if k != "stride"}


def _nest(scope: Stmt) -> None:
    """A scope holding one flat row from position 0 is that row, named as the scope (`layer1 block ... repeat=3`)."""
    for i, child in enumerate(scope.body):
        if (child.is_scope and child.label and len(child.body) == 1 and child.body[0].opts.get("names") == "flat"
                and child.body[0].position == 0):
            row = child.body[0]
            row.opts = {k: v for k, v in row.opts.items() if k != "names"}
            row.label, row.refs, row.position = child.label, child.refs, child.position
            scope.body[i] = row
