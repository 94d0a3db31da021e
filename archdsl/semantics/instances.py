"""Using a block defined in the language: instantiating its body (binding.py binds the use's arguments).

A use is a statement (`inverted_residual 24 expand=6 /2`) or a stage row of the block's type.
With `repeat=N` it is a row of N units: the first takes the row's stride, the rest stride 1,
and `names=` says where they live (`nested`: `row.0`, `row.1`; `flat`: the next positions of the
enclosing scope, as torchvision's MobileNets number `features`; `prefixed`: `row.row-0`, as its
RegNets do; `inline`: each unit's own layers take the next positions of the enclosing scope, as
torchvision's VGG numbers its conv, norm and relu modules in one `features`; `here`: one instance
whose layers take their own names in the use's scope). The body sees only its own names, `input`,
its parameters, the spec's parameters and `unit`, `units`, `stage_unit`, `stage_units`.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from dataclasses import dataclass, replace

from archdsl.diagnostics import Label, error
from archdsl.semantics import prelude
from archdsl.semantics.binding import Binder, Binding, ValueRef
from archdsl.semantics.emit import join
from archdsl.semantics.replay import Made, instance_key, reads_unit, repeated
from archdsl.semantics.scope import MADE_BY, Scope
from archdsl.semantics.userblocks import BlockDef
from archdsl.semantics.values import Invalid, Unknown, invalid, names_in, show
from archdsl.syntax import tree as T


@dataclass
class StageCount:
    """Where the units of one `stages` section have got to, and how many it has. `depth` is how
    many block instances enclose the section: only the uses at that depth are its units, not the
    blocks their bodies use."""

    total: int
    depth: int = 0
    done: int = 0


class BlockUses(Binder):
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
        def build(i: int, x: int, path: str) -> int:
            return self.unit(block, stmt, path, x, binding, i, binding.repeat)

        def replayable() -> bool:
            return binding.repeat > 2 and not self.reads_unit(block)

        return repeated(self.em, self.em.budget.repeats(binding.repeat, stmt.span, row), x, path_of, build,
                        replayable, lambda: self.stage_unit(binding))

    def reads_unit(self, block: BlockDef) -> bool:
        """replay.reads_unit, worked out once per block in a spec."""
        found = self.unit_readers.get(block.name)
        if found is None:
            found = self.unit_readers[block.name] = reads_unit(block, self.user_blocks)
        return found

    def use_here(self, stmt: T.Statement, scope, x: int, name: str | None, block: BlockDef, binding) -> int:
        """`names=here`: one instance whose layers take their own names in the use's scope."""
        self.unnamed_row(stmt, name, "here")
        scope.count -= 1  # the use takes no position: its layers do
        names: dict = {}
        out = self.unit(block, stmt, scope.prefix, x, binding, 0, 1, positions=scope, names=names)
        scope.names.update(names)
        return out

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
        key = instance_key(block, use, values, self.graph[x].type) \
            if positions is None and application is None and self.em.sharing is None and MADE_BY.get() is None \
            else None
        made = self.made_instances.get(key) if key is not None else None
        if made is not None and made.block is block and made.use is use:
            template = made.template(self.em)
            if template is not None and template.fits(x):
                return template.apply(x, path, names)
        state, start = self.instance_state(), len(self.graph)
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
                    out = self.sequence(self.body_of(block, binding, use), inner, x)
                finally:
                    if positions:
                        positions.count = inner.count
                    if names is not None:
                        names.update((n, v) for n, v in inner.names.items() if n not in binding.values)
            if key is not None and len(self.diagnostics) == before and self.instance_state() == state:
                self.remember_instance(key, block, use, start, x, out, path, inner.names)
            return out
        except Abandon:  # a requirement failed: the rest of the body would only echo it
            raise Unknown() from None
        finally:
            self.ev = saved
            self.uses.pop()
            self.entries.pop()
            self.diagnostics[before:] = [prelude.relocated(d, use.span) if block.bundled else _noted(d, block, use, path)
                                         for d in self.diagnostics[before:]]

    def instance_state(self) -> tuple:
        """What a block's body may change besides the graph: the input size a `same` padding
        fixed, the `stages` section's count and the running dilation."""
        return self.graph.size_fixed_by, self.stage_count, self.stage_count and self.stage_count.done, self.dilation

    def remember_instance(self, key, block: BlockDef, use: T.Statement, start: int, x: int, out: int, path: str,
                          names: dict) -> None:
        """Keep where an instance just made lies, for another of the same block, use and values on an
        input of the same type (`instance_key`): the first such copies its nodes (replay.Made)."""
        self.made_instances[key] = Made(block, use, start, len(self.graph), x, out, path, dict(names),
                                        tuple(self.em.frames))

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
