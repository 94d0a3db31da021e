"""Statements that decide what is built rather than build it: `if`/`elif`/`else`, `let`, `split`.

`if CONDITION` includes its indented statements where the condition holds (MobileNet's block
has no expansion conv where the ratio is 1); they stay in the enclosing scope, so the module
paths are those of the statements that are there. `let NAME = VALUE` names a value for the
statements after it. `NAME split N` (or `split A B ...` sizes) cuts a value's channels into
parts named `NAME.0`, `NAME.1`, ... (views, no modules).
"""

from __future__ import annotations


from archdsl.ir import nodes as N
from archdsl.semantics.emit import join
from archdsl.semantics.values import UNKNOWN, Invalid, Unknown, invalid
from archdsl.syntax import tree as T

CONDITIONS = ("if", "elif", "else")
#: statements that take no position in their scope (they make no module of their own)
CONTROL = (*CONDITIONS, "let", "require", "block", "use")


class Control:
    """The Builder's part for conditions, `let` and `split` (mixed into Builder)."""

    def condition(self, stmt: T.Statement, scope, x: int, stage, chain: bool | None) -> tuple[int, bool | None]:
        """Run one `if`/`elif`/`else` of a chain; `chain` is None outside one, else whether a branch
        of it already ran. Returns the value after it and the chain's new state."""
        word = stmt.word
        if word != "if" and chain is None:
            raise invalid("E0221", f"`{word}` without an `if` before it", stmt.word_span, "no `if`",
                          f"put `{word}` right after an `if` block (or an `elif` one)")
        self.require_body(stmt)
        if word == "else":
            if stmt.args or stmt.options or stmt.inputs:
                raise invalid("E0206", "`else` takes no condition", (stmt.args or stmt.options or stmt.inputs)[0].span,
                              "unexpected", "write `elif CONDITION` for another condition")
            return (x if chain else self.sequence(stmt.body, scope, x, stage)), None
        if len(stmt.args) != 1 or stmt.options or stmt.inputs:
            raise invalid("E0206", f"`{word}` takes one condition", stmt.span, f"expected `{word} CONDITION`",
                          "write it like `if expand != 1`; options and `from` go on the statements inside")
        if chain and word == "elif":  # an `if` starts a chain of its own, whatever came before
            return x, True
        taken = self.ev.truth(stmt.args[0], f"`{word}`")
        return (self.sequence(stmt.body, scope, x, stage) if taken else x), taken

    def let(self, stmt: T.Statement) -> None:
        if stmt.args or not stmt.options or stmt.inputs or stmt.body:
            raise invalid("E0206", "`let` names values: `let NAME = VALUE`", stmt.span,
                          "expected `let NAME = VALUE`", "write it like `let hidden = round(input.channels * expand)`")
        for option in stmt.options:
            if option.name in self.ev.params and option.name not in self.lets:
                raise invalid("E0202", f"`{option.name}` is already a parameter", option.name_span, "defined again",
                              f"choose another name for this value, like `{option.name}_2`")
            self.lets.add(option.name)
            try:
                self.ev.params[option.name] = self.ev.word(option.value)
            except (Invalid, Unknown):
                self.ev.params[option.name] = UNKNOWN  # what reads it is skipped: the error is reported once
                raise

    def split(self, stmt: T.Statement, scope, x: int, name: str | None, args) -> int:
        """`parts split 2` or `parts split 24 40`: parts `parts.0`, `parts.1`, ... of x's channels."""
        if name is None:
            raise invalid("E0207", "a split needs a name for its parts", stmt.span, "unnamed",
                          "write it like `parts split 2`; its parts are then `parts.0`, `parts.1`, ...")
        if not args or stmt.options:
            raise invalid("E0207", "`split` needs a number of parts or their sizes", stmt.span, "how many parts?",
                          "write `parts split 2` for halves, or `parts split 16 48` for given sizes")
        x = self.block_input(stmt, scope, x)
        t = self.em.type_of(x)
        if len(args) == 1 and not isinstance(args[0], T.ListValue):
            count = self.ev.int_(args[0], "the number of parts")
            if t is not None and t.channels % count:
                raise invalid("E0309", f"{t.channels} channels do not split into {count} equal parts", args[0].span,
                              f"{t.channels} channels", "give the sizes of the parts instead, like `split 24 40`")
            sizes = [t.channels // count] * count if t is not None else [1] * count
        else:
            items = args[0].items if isinstance(args[0], T.ListValue) else args
            sizes = [self.ev.int_(v, "a part's size") for v in items]
        if t is not None and sum(sizes) != t.channels:
            raise invalid("E0309", f"the parts add up to {sum(sizes)} channels, not the input's {t.channels}",
                          stmt.span, f"{' + '.join(map(str, sizes))} = {sum(sizes)}",
                          "the parts must cover the input's channels exactly")
        start = 0
        for i, size in enumerate(sizes):
            part = self.em.emit(N.ChannelSlice, [x], join(scope.prefix, f"{name}.{i}"), stmt.span,
                                start=start, size=size)
            scope.names.setdefault(f"{name}.{i}", (part, stmt.span))
            start += size
        scope.names.setdefault(name, (x, stmt.span))
        return x

    def property_of(self, owner: str, prop: str, span) -> int:
        """`owner.channels`, `.height`, `.width`: the size of a value visible where it is read."""
        found = self.current_scope.lookup(owner) if self.current_scope is not None else None
        if found is None:
            raise invalid("E0204", f"unknown value `{owner}`", span, "not defined before this point",
                          "`input.channels` reads the block's input; any value defined above can be read too")
        t = self.em.type_of(found)
        if t is None:
            raise Unknown()
        if t is not None and prop in t.axes and prop not in ("channels", "height", "width"):
            return t.size(prop)
        if prop not in ("channels", "height", "width"):
            raise invalid("E0205", f"a value has no `{prop}`", span, "unknown property",
                          "a value's properties are `channels`, `height`, `width` and the names of its axes "
                          f"({', '.join(t.axes)})")
        size = getattr(t, prop)
        if size is None:
            raise invalid("E0209", f"`{owner}` is a flat vector of {t.channels}: it has no {prop}", span,
                          "no such size", "read `channels` of a flat vector")
        return size
