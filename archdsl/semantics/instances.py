"""Using a block defined in the language: binding a use's arguments, and instantiating the body.

A use is a statement (`inverted_residual 24 expand=6 /2`) or a stage row of the block's type.
With `repeat=N` it is a row of N units: the first takes the row's stride, the rest stride 1,
and `names=` says where they live (`nested`: `row.0`, `row.1`; `flat`: the next positions of the
enclosing scope, as torchvision's MobileNets number `features`; `prefixed`: `row.row-0`, as its
RegNets do; `inline`: each unit's own layers take the next positions of the enclosing scope, as
torchvision's VGG numbers its conv, norm and relu modules in one `features`). The body sees only its own names, `input`, its parameters, the spec's parameters
and `unit`, `units`, `stage_unit`, `stage_units`.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, replace

from archdsl.diagnostics import Label, did_you_mean, error
from archdsl.semantics.emit import join
from archdsl.semantics.userblocks import NAMINGS, ROW_OPTIONS, BlockDef
from archdsl.semantics.values import Invalid, Unknown, invalid, names_in, show
from archdsl.syntax import tree as T


@dataclass(frozen=True)
class Binding:
    """A use's evaluated arguments: the block's parameter values, and the row it asks for."""

    values: dict
    repeat: int | None
    naming: str
    stride_given: bool
    #: one instance applied to each value of `from` (shared weights)
    shared: bool = False


@dataclass(frozen=True)
class ValueRef:
    """A value of the use's scope passed to a block (its node)."""

    node: int


@dataclass
class StageCount:
    """Where the units of one `stages` section have got to, and how many it has. `depth` is how
    many block instances enclose the section: only the uses at that depth are its units, not the
    blocks their bodies use."""

    total: int
    depth: int = 0
    done: int = 0


class BlockUses:
    """The Builder's part that instantiates user blocks (mixed into Builder)."""

    def use_block(self, stmt: T.Statement, scope, x: int, name: str | None, block: BlockDef, args,
                  index: int) -> int:
        if block.broken:
            raise Unknown()  # its definition's error is reported once, at the definition
        binding = self.bind(stmt, block, args, scope)
        if binding.shared:
            return self.shared_use(stmt, scope, x, name, block, binding, index)
        x = self.block_input(stmt, scope, x)
        block.used = True
        if binding.repeat is None:
            names: dict = {}
            out = self.unit(block, stmt, join(scope.prefix, name or str(index)), x, binding, 0, 1, names=names)
            if name is not None:
                self.define(scope, name, out, stmt)
                self.export(scope, name, names, stmt)
            return out
        if binding.naming == "inline":
            self.unnamed_row(stmt, name, "inline")
            scope.count -= 1  # the use takes no position: its units' layers do
            for i in self.em.budget.repeats(binding.repeat, stmt.span, block.name):
                x = self.unit(block, stmt, scope.prefix, x, binding, i, binding.repeat, positions=scope)
            return x
        if binding.naming == "flat":
            self.unnamed_row(stmt, name, "flat")
            for i in self.em.budget.repeats(binding.repeat, stmt.span, block.name):
                position = index if i == 0 else scope.next_index()
                x = self.unit(block, stmt, join(scope.prefix, str(position)), x, binding, i, binding.repeat)
            return x
        row = name or str(index)
        path = join(scope.prefix, row)
        with self.em.frame("row", path, block.name):
            for i in self.em.budget.repeats(binding.repeat, stmt.span, row):
                unit_name = f"{row}-{i}" if binding.naming == "prefixed" else (
                    binding.naming.replace("{i}", str(i)) if "{i}" in binding.naming else str(i))
                x = self.unit(block, stmt, join(path, unit_name), x, binding, i, binding.repeat)
        self.define(scope, row, x, stmt)
        return x

    def naming(self, value) -> str:
        """A row's `names=`: one of NAMINGS, or a quoted pattern in which `{i}` is the unit's index
        (`names="encoder_layer_{i}"`, as torchvision's ViT names its layers)."""
        if not isinstance(value, T.Str):
            return self.ev.choice(value, "names", NAMINGS)
        if "{i}" not in value.value or not value.value.replace("{i}", "0").isidentifier():
            raise invalid("E0209", "a names pattern is a name with `{i}` in it", value.span, "not a names pattern",
                          'write it like names="encoder_layer_{i}": `{i}` becomes 0, 1, 2, ...')
        return value.value

    @staticmethod
    def unnamed_row(stmt: T.Statement, name: str | None, naming: str) -> None:
        """E0206 for a named row whose units live in the enclosing scope."""
        if name is not None:
            raise invalid("E0206", f"a row with names={naming} has no name of its own", stmt.word_span,
                          "named here", "its units take the next positions of the enclosing scope: "
                          "remove the name, or use names=nested")

    def argument(self, value, takes_value: bool, scope):
        """A use's argument: a value of the use's scope for a parameter the body reads with `from`
        (E0204 if it names none), else a number, size or word."""
        if not takes_value:
            return self.ev.word(value)
        if not isinstance(value, T.Name):
            raise invalid("E0206", "this parameter takes a value: the name of a layer or block above",
                          value.span, "not a value's name", "the block reads it with `from`; write a name like `down4`")
        return ValueRef(self.resolve(value, scope))

    def bind(self, stmt: T.Statement, block: BlockDef, args, scope) -> Binding:
        """The use's arguments matched to the block's parameters; E0203/E0206/E0207 for a mismatch."""
        values, given = {}, {}
        positional = [a for a in args if not isinstance(a, T.Stride)]
        stride = next((a for a in args if isinstance(a, T.Stride)), None)
        if len(positional) > len(block.params):
            raise invalid("E0206", f"too many arguments for `{block.name}`", positional[len(block.params)].span,
                          "unexpected", f"it reads `{block.usage()}`")
        takes_values = block.value_params
        for param, arg in zip(block.params, positional):
            values[param.name], given[param.name] = self.argument(arg, param.name in takes_values, scope), arg.span
        options = {o.name: o for o in stmt.options}
        for option in stmt.options:
            if option.name in ROW_OPTIONS:
                continue
            if block.param(option.name) is None:
                hint = did_you_mean(option.name, [p.name for p in block.params] + list(ROW_OPTIONS)) or \
                    f"it reads `{block.usage()}`"
                raise invalid("E0203", f"`{block.name}` has no parameter `{option.name}`", option.name_span,
                              "unknown parameter", hint, (Label(block.name_span, "defined here"),))
            if option.name in given:
                raise invalid("E0202", f"`{option.name}` is given twice", option.span, "given again",
                              "keep one: by position or by name", (Label(given[option.name], "first given here"),))
            values[option.name] = self.argument(option.value, option.name in takes_values, scope)
            given[option.name] = option.span
        if stride is not None:
            if block.param("stride") is None:
                raise invalid("E0206", f"`{block.name}` has no stride", stride.span, "unexpected stride",
                              f"give the block a `stride` parameter to take `/N`; it reads `{block.usage()}`",
                              (Label(block.name_span, "defined here"),))
            if "stride" in given:
                raise invalid("E0202", "the stride is given twice", stride.span, "given again",
                              "keep one", (Label(given["stride"], "first given here"),))
            values["stride"] = stride.value
        missing = [p.name for p in block.params if p.required and p.name not in values]
        if missing:
            raise invalid("E0207", f"`{block.name}` needs `{missing[0]}`", stmt.span, f"{missing[0]} missing",
                          f"it reads `{block.usage()}`", (Label(block.name_span, "defined here"),))
        for param in block.params:
            values.setdefault(param.name, param.default)
        shared = self.ev.bool_(options["shared"].value, "shared") if "shared" in options else False
        if shared and ("repeat" in options or "names" in options):
            extra = options.get("repeat") or options["names"]
            raise invalid("E0206", "a shared use applies one instance to each value; it makes no row",
                          extra.span, "not with shared=true", "remove `repeat=`/`names=`, or `shared=true`")
        if not shared and len(stmt.inputs) > 1:
            raise invalid("E0206", f"`{block.name}` starts from one value", stmt.inputs[1].span, "one too many",
                          f"write `from {stmt.inputs[0].name}` (join several first with `add` or `concat`), or "
                          "shared=true to apply one instance to each value listed, its weights stored once")
        repeat = self.ev.int_(options["repeat"].value, "repeat", 0) if "repeat" in options else None
        naming = self.naming(options["names"].value) if "names" in options else "nested"
        if "names" in options and repeat is None:
            raise invalid("E0206", "`names=` names the units of a row", options["names"].span, "no row here",
                          "add repeat=N to make a row of N units")
        return Binding(values, repeat, naming, stride is not None or "stride" in given, shared)

    def unit(self, block: BlockDef, use: T.Statement, path: str, x: int, binding: Binding, unit: int,
             units: int, positions=None, application: tuple[int, int] | None = None,
             names: dict | None = None) -> int:
        """One instance of `block` at `path` from `x`: the body walked with its own names and values
        (its unnamed layers numbered on from the scope `positions`, where given, and counted there).
        `names`, where given, receives the names the body defined; `application`, (k, n) for the k-th
        of n applications of a shared instance."""
        if block.name in (b.name for b, _ in self.uses):
            chain = " -> ".join([*(b.name for b, _ in self.uses), block.name])
            raise invalid("E0223", f"block `{block.name}` uses itself", use.span, "used again inside itself",
                          f"{chain}: a block cannot contain itself", (Label(block.name_span, "defined here"),))
        values = dict(binding.values)
        if unit > 0 and binding.stride_given:
            values["stride"] = 1
        stage = self.stage_count if binding.repeat is not None and self.stage_count \
            and len(self.uses) == self.stage_count.depth else None
        values.update(unit=unit, units=units, stage_unit=stage.done if stage else unit,
                      stage_units=stage.total if stage else units)
        if stage:
            stage.done += 1
        saved, before = self.ev, len(self.diagnostics)
        self.ev = self.ev.child({**self.root_params, **{k: v for k, v in values.items() if not isinstance(v, ValueRef)}})
        self.uses.append((block, use))
        try:
            from archdsl.semantics.builder import Scope

            inner = Scope(path, x, count=positions.count if positions else 0)
            for name, value in binding.values.items():
                if isinstance(value, ValueRef):
                    inner.names[name] = (value.node, use.span)
            frame = self.em.frame("block", path, block.name, *(application or ())) if positions is None \
                else nullcontext()
            with frame:
                try:
                    return self.sequence(block.body, inner, x)
                finally:
                    if positions:
                        positions.count = inner.count
                    if names is not None:
                        names.update((n, v) for n, v in inner.names.items() if n not in binding.values)
        except Abandon:  # a requirement failed: the rest of the body would only echo it
            raise Unknown() from None
        finally:
            self.ev = saved
            self.uses.pop()
            self.diagnostics[before:] = [_noted(d, block, use, path) for d in self.diagnostics[before:]]

    def shared_use(self, stmt: T.Statement, scope, x: int, name: str | None, block: BlockDef, binding: Binding,
                   index: int) -> int:
        """`NAME BLOCK args from a, b, c shared=true`: one instance at NAME applied to each value, its
        state stored once (the first application's nodes own it, the others' `shares` them). Each
        application is checked as a use of its own, and all must build the same layers with state of
        the same shapes (E0230). The results are `NAME.0`, `NAME.1`, ... in the order of `from`, and the
        values each application named inside are `NAME.0.inner`, ..."""
        values = [self.resolve(ref, scope) for ref in stmt.inputs] or [x]
        block.used = True
        row = name or str(index)
        path = join(scope.prefix, row)
        outs, names = [], []
        with self.em.applications() as sharing:
            for value in values:
                k = sharing.next_application()
                names.append({})
                outs.append(self.unit(block, stmt, path, value, binding, 0, 1, application=(k, len(values)),
                                      names=names[-1]))
            sharing.finish()
        if sharing.mismatch is not None:
            raise Invalid(self.sharing_mismatch(stmt, path, sharing.mismatch))
        for k, out in enumerate(outs):
            self.define(scope, f"{row}.{k}", out, stmt)
            self.export(scope, f"{row}.{k}", names[k], stmt)
        return outs[-1]

    def sharing_mismatch(self, stmt: T.Statement, path: str, mismatch):
        """E0230: an application of a shared instance built other layers than the first."""
        k, node, owner = mismatch
        refs = list(stmt.inputs)
        at = refs[k] if k < len(refs) else stmt
        first = refs[0].name if refs else "its first value"
        here = refs[k].name if k < len(refs) else f"value {k}"
        label = f"builds other layers for `{here}` than for `{first}`"
        shown = (node or owner).path
        both = node is not None and owner is not None
        states = (_state_text(self.graph, node), _state_text(self.graph, owner)) if both else ()
        differs = [attr for attr, v in node.attrs().items() if owner.attrs().get(attr) != v] \
            if both and node.op == owner.op else []
        if both and node.path != owner.path:
            detail = f"`{here}` builds `{node.path}` where `{first}` builds `{owner.path}`"
        elif both and (states[0] != states[1] or not differs):
            detail = f"`{shown}` has {states[0]} here, {states[1]} for `{first}`"
        elif both:
            key = differs[0]
            detail = f"`{shown}` has {key}={node.attrs()[key]} here, {key}={owner.attrs()[key]} for `{first}`"
        elif node is not None:
            detail = f"`{shown}` is built for `{here}` only"
        else:
            detail = f"`{shown}` is built for `{first}` only"
        return error("E0230", f"shared `{path}` cannot use one set of weights for every value", at.span, label,
                     f"{detail}; a shared block stores its weights once, so every value it is applied to must "
                     "build the same layers, with weights of the same shapes (the same channels)")

    def count_stage(self, statements, section_block: str | None = None) -> StageCount:
        """The units a `stages` section's rows (uses with `repeat=`) make, counted before the first
        is built (the stochastic-depth schedule of EfficientNet and ConvNeXt needs the total)."""
        total = 0
        for stmt in statements:
            block = self.user_blocks.get(stmt.word) or next(
                (self.user_blocks.get(a.name) for a in stmt.args[:1] if isinstance(a, T.Name)), None) \
                or self.user_blocks.get(section_block)
            if block is None:
                continue
            repeat = stmt.option("repeat")
            if repeat is None:
                continue  # a single use between the rows (ConvNeXt's downsampling) is no unit of them
            try:
                total += self.ev.int_(repeat.value, "repeat", 0)
            except Invalid:
                total += 1  # the walk reports it
        return StageCount(total, len(self.uses))

    def require(self, stmt: T.Statement) -> None:
        """`require CONDITION`: a block's own rule, reported at the use that breaks it."""
        if len(stmt.args) != 1 or stmt.options or stmt.inputs or stmt.body:
            raise invalid("E0206", "`require` takes one condition", stmt.span, "expected `require CONDITION`",
                          "write it like `require out % groups == 0`")
        condition = stmt.args[0]
        if self.ev.truth(condition, "`require`"):
            return
        text = _text(condition)
        values = ", ".join(f"{n}={show(self.ev.params[n])}" for n in sorted(names_in(condition))
                           if n in self.ev.params)
        if not self.uses:
            raise invalid("E0224", f"requirement not met: `{text}`", condition.span, values or "false",
                          "change the values it reads")
        block, use = self.uses[-1]
        self.diagnostics.append(error("E0224", f"`{block.name}` requires `{text}`", use.span, values or "not met",
                                      "change the arguments of this use", (Label(stmt.span, "required here"),)))
        raise Abandon()


class Abandon(Exception):
    """Stops an instance whose requirement failed (reported already)."""


def _noted(d, block: BlockDef, use: T.Statement, path: str):
    """A problem found inside an instance, with a note at the use that made it (as a compiler notes
    the expansion a macro's error came from); the use's own problems need none."""
    if d.span is None or d.span == use.span or any(n.span == use.span for n in d.notes):
        return d
    return replace(d, notes=d.notes + (Label(use.span, f"in `{path}`, made by this use of `{block.name}`"),))


def _state_text(graph, node) -> str:
    """`weight 256x128x3x3`: a node's state entries and their shapes, for a diagnostic."""
    in_type = graph[node.inputs[0]].type if node.inputs else None
    if in_type is None:
        return node.op
    return ", ".join(f"{e.suffix or 'weight'} {'x'.join(map(str, e.shape))}" for e in node.state(in_type)[:2])


def _text(value) -> str:
    span = value.span
    if span.source is None or span.line != span.end_line:
        return "..."
    return span.source.line(span.line)[span.col - 1:span.end_col - 1]
