"""Binding a block's use: its arguments matched to the block's parameters, a table row's
entries to its pattern's names, the options a row inherits from its `stages` line, and the
dilation a `dilate=true` row takes (mixed into the Builder through BlockUses)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from archdsl.diagnostics import Label, did_you_mean
from archdsl.semantics.rows import FROM_DEFAULTS, read_table
from archdsl.semantics.userblocks import NAMINGS, ROW_OPTIONS, BlockDef
from archdsl.semantics.values import Invalid, invalid
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


class Binder:
    """The Builder's part that binds a use's arguments (mixed into Builder through BlockUses)."""

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
