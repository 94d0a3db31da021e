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

import re
from contextlib import nullcontext
from dataclasses import dataclass, field, replace

from archdsl.diagnostics import Label, did_you_mean, error
from archdsl.semantics import prelude
from archdsl.semantics.emit import join
from archdsl.semantics.replay import Template, reads_unit
from archdsl.semantics.rows import FROM_DEFAULTS
from archdsl.semantics.scope import MADE_BY, Scope
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
    #: a table row's entries: each entry name -> where the entry is written
    entries: dict = field(default_factory=dict)
    #: a table row's dilation: of its first unit, and of the others (see table_dilation)
    dilations: tuple[int, int] | None = None


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
                  index: int, inherited: tuple = ()) -> int:
        """A use of `block`: one instance, a row of them (`repeat=`, or a table row), or one
        instance applied to several values (`shared=true`); `inherited`, the options of the
        `stages` line a table row is under."""
        if block.broken:
            raise Unknown()  # its definition's error is reported once, at the definition
        binding = self.bind(stmt, block, args, scope, inherited)
        if binding.shared:
            return self.shared_use(stmt, scope, x, name, block, binding, index)
        x = self.block_input(stmt, scope, x)
        block.used = True
        if binding.naming == "here":
            return self.use_here(stmt, scope, x, name, block, binding)
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
            def flat(i: int) -> str:
                return join(scope.prefix, str(index if i == 0 else scope.next_index()))
            return self.units(block, stmt, x, binding, block.name, flat)
        row = name or str(index)
        path = join(scope.prefix, row)

        def nested(i: int) -> str:
            return join(path, f"{row}-{i}" if binding.naming == "prefixed" else (
                binding.naming.replace("{i}", str(i)) if "{i}" in binding.naming else str(i)))
        with self.em.frame("row", path, block.name):
            x = self.units(block, stmt, x, binding, row, nested)
        self.define(scope, row, x, stmt)
        return x

    def units(self, block: BlockDef, stmt: T.Statement, x: int, binding: Binding, row: str, path_of) -> int:
        """The units of a row, unit `i` at `path_of(i)`. From the third on, a unit is the second
        made again where that is the same IR (replay.py), else its body is walked as the others'."""
        template = None
        for i in self.em.budget.repeats(binding.repeat, stmt.span, row):
            path = path_of(i)
            if template is not None and template.fits(x):
                self.stage_unit(binding)
                x = template.apply(x, path)
                continue
            start, before, source = len(self.graph), len(self.diagnostics), x
            x = self.unit(block, stmt, path, x, binding, i, binding.repeat)
            if i == 1 and binding.repeat > 2 and len(self.diagnostics) == before and MADE_BY.get() is None \
                    and not reads_unit(block, self.user_blocks):
                template = Template(self.em, start, len(self.graph), source, x, path)
        return x

    def use_here(self, stmt: T.Statement, scope, x: int, name: str | None, block: BlockDef, binding) -> int:
        """`names=here`: one instance whose layers take their own names in the use's scope."""
        self.unnamed_row(stmt, name, "here")
        scope.count -= 1  # the use takes no position: its layers do
        names: dict = {}
        out = self.unit(block, stmt, scope.prefix, x, binding, 0, 1, positions=scope, names=names)
        scope.names.update(names)
        return out

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

    def bind(self, stmt: T.Statement, block: BlockDef, args, scope, inherited: tuple = ()) -> Binding:
        """The use's arguments matched to the block's parameters; E0203/E0206/E0207 for a mismatch.
        A table block's use is a stage row: its table gives the entries and the repeat count."""
        values, given = {}, {}
        positional = [a for a in args if not isinstance(a, T.Stride)]
        stride = next((a for a in args if isinstance(a, T.Stride)), None)
        repeat, entries = None, {}
        if block.table:
            positional, repeat, entries = self.table_row(stmt, block, positional, values, given)
        if len(positional) > len(block.params):
            raise invalid("E0206", f"too many arguments for `{block.name}`", positional[len(block.params)].span,
                          "unexpected", f"it reads `{block.usage()}`")
        takes_values = block.value_params
        for param, arg in zip(block.params, positional):
            values[param.name], given[param.name] = self.parameter(param, arg, param.name in takes_values, scope), \
                arg.span
        options = {o.name: o for o in (*inherited, *stmt.options)}  # the row's own win over its `stages` line's
        for option in options.values():
            if option.name in ROW_OPTIONS or (block.table and option.name == "dilate"):
                continue
            param = block.param(option.name)
            if param is None or (block.table and option.name in ("stride", "dilation")):
                raise self.unknown_parameter(block, option)
            if option.name in given:
                raise invalid("E0202", f"`{option.name}` is given twice", option.span, "given again",
                              "keep one: by position or by name", (Label(given[option.name], "first given here"),))
            values[option.name] = self.parameter(param, option.value, option.name in takes_values, scope)
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
            if param.name not in values and block.table and param.name in FROM_DEFAULTS:
                option = self.defaults.get(FROM_DEFAULTS[param.name], {}).get(param.name)
                if option is not None:  # `default conv bias=true` reaches a table block's `bias`
                    values[param.name] = self.parameter(param, option.value, False, scope)
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
        if "repeat" in options:
            if block.table:
                raise invalid("E0206", "a table row's repeat count is its table's first number",
                              options["repeat"].span, "not on a table row", "write it as [N, [...]]")
            repeat = self.ev.int_(options["repeat"].value, "repeat", 0)
        naming = self.naming(options["names"].value) if "names" in options else "nested"
        if "names" in options and repeat is None and naming != "here":
            raise invalid("E0206", "`names=` names the units of a row", options["names"].span, "no row here",
                          "add repeat=N to make a row of N units")
        if naming == "here" and repeat is not None:
            raise invalid("E0206", "names=here makes one instance, not a row", options["names"].span,
                          "not with a row", "remove `repeat=` (or the table), or choose another `names=`")
        binding = Binding(values, repeat, naming, stride is not None or "stride" in given, shared, entries)
        return self.table_dilation(binding, block, options.get("dilate")) if block.table else binding

    def parameter(self, param, value, takes_value: bool, scope):
        """One argument for `param`: a value of the use's scope, one of its words, true or false
        where its default is, else a number, size or word."""
        if param.choices:
            return self.ev.choice(value, param.name, param.choices)
        if param.default in ("true", "false"):
            return "true" if self.ev.bool_(value, param.name) else "false"
        return self.argument(value, takes_value, scope)

    def unknown_parameter(self, block: BlockDef, option: T.Option) -> Invalid:
        """E0203; a table row's options are options, a use's are parameters."""
        if block.table:
            takes = block.row_options()
            hint = did_you_mean(option.name, takes) or f"`{block.name}` takes: " + (", ".join(takes) or "none")
            return invalid("E0203", f"`{block.name}` has no option `{option.name}`", option.name_span,
                           "unknown option", hint, () if block.bundled else (Label(block.name_span, "defined here"),))
        hint = did_you_mean(option.name, [p.name for p in block.params] + list(ROW_OPTIONS)) or \
            f"it reads `{block.usage()}`"
        return invalid("E0203", f"`{block.name}` has no parameter `{option.name}`", option.name_span,
                       "unknown parameter", hint, (Label(block.name_span, "defined here"),))

    def table_row(self, stmt: T.Statement, block: BlockDef, positional: list, values: dict, given: dict):
        """A table block's stage table: its entries bound to the pattern's names (E0211 where the
        count differs). Returns the other positional arguments, the repeat count and the entries'
        places by name."""
        from archdsl.semantics.rows import read_table

        tables = [a for a in positional if isinstance(a, T.ListValue)]
        example = block.example()
        if not tables:
            raise invalid("E0211", f"a `{block.name}` row needs a stage table", stmt.span, "no table",
                          f"write it like `{example}`")
        repeat, convs = read_table(tables[0], block.name, example, len(block.table), self.ev)
        entries = {}
        for entry, conv in zip(block.table, convs):
            values[entry.channels], values[entry.kernel] = conv.channels, conv.kernel
            given[entry.channels] = given[entry.kernel] = conv.span
            entries[entry.channels] = entries[entry.kernel] = conv.span
        return [a for a in positional if a is not tables[0]], repeat, entries

    def table_dilation(self, binding: Binding, block: BlockDef, dilate: T.Option | None) -> Binding:
        """torchvision's replace_stride_with_dilation, for a table block with a `dilation`: a
        `dilate=true` row multiplies the running dilation of its `stages` section by its stride
        and strides no more; its first unit keeps the dilation of the rows before it, the others
        take the new one. A row without it has the running dilation throughout."""
        if block.param("dilation") is None:
            if dilate is not None:
                raise self.unknown_parameter(block, dilate)
            return binding
        before = self.dilation if self.stage_count is not None else 1
        if dilate is None or not self.ev.bool_(dilate.value, "dilate"):
            return replace(binding, dilations=(before, before))
        stride = binding.values.get("stride", 1)
        if self.stage_count is not None:
            self.dilation = before * stride
        return replace(binding, values={**binding.values, "stride": 1}, dilations=(before, before * stride))

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
        if binding.dilations is not None:
            values["dilation"] = binding.dilations[unit > 0]
        stage = self.stage_unit(binding)
        values.update(unit=unit, units=units, stage_unit=stage.done - 1 if stage else unit,
                      stage_units=stage.total if stage else units)
        saved, before = self.ev, len(self.diagnostics)
        self.ev = self.ev.child({**self.root_params, **{k: v for k, v in values.items() if not isinstance(v, ValueRef)}})
        self.uses.append((block, use))
        self.entries.append(binding.entries)
        try:
            inner = Scope(path, x, count=positions.count if positions else 0)
            for name, value in binding.values.items():
                if isinstance(value, ValueRef):
                    inner.names[name] = (value.node, use.span)
            frame = self.em.frame("block", path, block.name, *(application or ())) if positions is None \
                else nullcontext()
            with frame:
                try:
                    return self.sequence(self.body_of(block, binding, use), inner, x)
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
            self.entries.pop()
            self.diagnostics[before:] = [prelude.relocated(d, use.span) if block.bundled else _noted(d, block, use, path)
                                         for d in self.diagnostics[before:]]

    def stage_unit(self, binding: Binding) -> StageCount | None:
        """The `stages` section whose units a unit of this row counts among (counted here), if any."""
        stage = self.stage_count if binding.repeat is not None and self.stage_count \
            and len(self.uses) == self.stage_count.depth else None
        if stage:
            stage.done += 1
        return stage

    def body_of(self, block: BlockDef, binding: Binding, use: T.Statement) -> tuple[T.Statement, ...]:
        """The statements an instance walks: a prelude block's spanned at its use (prelude.at_use),
        made once per use and kept for the row's other units."""
        if not block.bundled:
            return block.body
        key = (block.name, use.span)
        if key not in self.respanned:
            self.respanned[key] = prelude.at_use(block.body, binding.entries, use.span, self.user_blocks)
        return self.respanned[key]

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
            table = next((a for a in stmt.args if isinstance(a, T.ListValue)), None) if block.table else None
            if table is not None and table.items:
                repeat = T.Option("repeat", table.span, table.items[0], table.span)
            if repeat is None:
                continue  # a single use between the rows (ConvNeXt's downsampling) is no unit of them
            try:
                total += self.ev.int_(repeat.value, "repeat", 0)
            except Invalid:
                total += 1  # the walk reports it
        return StageCount(total, len(self.uses))

    def require(self, stmt: T.Statement) -> None:
        """`require CONDITION`: a block's own rule, reported at the use that breaks it, in the
        words of its `message=`, `label=` and `help=` where given (`{name}` in them is the value of
        `name`); a prelude block's is reported at the table entry it reads, under its `code=`."""
        if len(stmt.args) != 1 or stmt.inputs or stmt.body:
            raise invalid("E0206", "`require` takes one condition", stmt.span, "expected `require CONDITION`",
                          "write it like `require out % groups == 0`")
        block, use = self.uses[-1] if self.uses else (None, None)
        allowed = REQUIRE_WORDS + ("code",) * bool(block is not None and block.bundled)
        self.no_options(stmt, allowed)
        condition = stmt.args[0]
        if self.ev.truth(condition, "`require`"):
            return
        text = _text(condition)
        values = ", ".join(f"{n}={show(self.ev.params[n])}" for n in sorted(names_in(condition))
                           if n in self.ev.params)
        words = {o.name: self.words(o) for o in stmt.options}
        code = stmt.option("code").value.name if "code" in words else "E0224"
        if block is None:
            raise invalid(code, words.get("message", f"requirement not met: `{text}`"), condition.span,
                          words.get("label", values or "false"), words.get("help", "change the values it reads"))
        message = words.get("message", f"`{block.name}` requires `{text}`")
        label, help = words.get("label", values or "not met"), words.get("help", "change the arguments of this use")
        if block.bundled:
            self.diagnostics.append(error(code, message, stmt.span, label, help))
        else:  # at the table entry the condition reads, where it reads one
            read = names_in(condition)
            at = next((span for name, span in self.entries[-1].items() if name in read), use.span)
            self.diagnostics.append(error(code, message, at, label, help, (Label(stmt.span, "required here"),)))
        raise Abandon()

    def words(self, option: T.Option) -> str:
        """A `require` option's text: a quoted message, its `{name}`s replaced by their values."""
        if option.name == "code":
            from archdsl.catalogue import lookup

            if not isinstance(option.value, T.Name) or lookup(option.value.name) is None:
                raise invalid("E0209", "code= names an error of the catalogue", option.value.span, "not a code",
                              "write it like code=E0322")
            return option.value.name
        if not isinstance(option.value, T.Str):
            raise invalid("E0209", f"`{option.name}=` takes quoted text", option.value.span, "not quoted",
                          f'write it like {option.name}="groups={{groups}} does not divide {{out}}"')

        def value(match) -> str:
            return show(self.ev.word(T.Name(match.group(1), option.value.span)))

        return re.sub(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}", value, option.value.value)


#: the options `require` takes (a prelude block's also takes `code=`)
REQUIRE_WORDS = ("message", "label", "help")


class Abandon(Exception):
    """Stops an instance whose requirement failed (reported already)."""


def _noted(d, block: BlockDef, use: T.Statement, path: str):
    """A problem found inside an instance, with a note at the use that made it (as a compiler notes
    the expansion a macro's error came from); the use's own problems need none."""
    if d.span is None or _within(d.span, use.span) or any(n.span == use.span for n in d.notes):
        return d
    return replace(d, notes=d.notes + (Label(use.span, f"in `{path}`, made by this use of `{block.name}`"),))


def _within(span, outer) -> bool:
    """Whether `span` lies inside `outer` (a table entry inside its row)."""
    return span.source is outer.source and (outer.line, outer.col) <= (span.line, span.col) \
        and (span.end_line, span.end_col) <= (outer.end_line, outer.end_col)


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
