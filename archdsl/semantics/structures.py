"""The structure words: `scope`, `residual` (with its `shortcut`), `concat` (with its
`branch`es), the sections `stem`, `head`, `body`, and `stages` with its block type.

Each shapes the flow and the module paths of the statements under it; the statements
themselves are walked by the Builder (builder.py), which this class is mixed into.
"""

from __future__ import annotations

from archdsl.diagnostics import Span, did_you_mean, error
from archdsl.semantics.blocks import BlockType
from archdsl.semantics.emit import join
from archdsl.semantics.scope import Scope
from archdsl.semantics.values import invalid
from archdsl.syntax import tree as T


class Structures:
    """The Builder's part for structure words (mixed into Builder)."""

    def structure(self, stmt: T.Statement, scope, x: int, index: int, stage) -> int:
        word = stmt.word
        if word in ("shortcut", "branch"):
            parent = "residual" if word == "shortcut" else "concat"
            raise invalid("E0210", f"`{word}` only appears inside `{parent}`", stmt.word_span, "not allowed here",
                          f"indent it under a `{parent}` block")
        self.require_body(stmt)
        name = self.structure_name(stmt, index)
        self.check_new_name(scope, name, stmt, stmt.args[0].span if stmt.args else None)
        x = self.block_input(stmt, scope, x)
        inner = Scope(join(scope.prefix, name), x, scope)
        with self.em.frame("scope" if word == "scope" else "block", inner.prefix, word):
            out = {"scope": self.scope_body, "residual": self.residual, "concat": self.concat}[word](stmt, inner, x)
        self.define(scope, name, out, stmt)
        self.export(scope, name, inner.names, stmt)
        return out

    def export(self, scope, name: str, names: dict, stmt: T.Statement) -> None:
        """The values named inside a named scope or block instance, visible after it as `NAME.inner`
        (`body.layer2`, `fpn.layer_blocks.0`): an FPN reads its backbone's stages this way."""
        for inner, (node_id, _) in names.items():
            self.define(scope, f"{name}.{inner}", node_id, stmt)

    def section(self, stmt: T.Statement, scope, x: int, stage) -> int:
        """`stem`, `head`, `body`, `stages`: grouping only; the statements stay in the enclosing scope."""
        self.require_body(stmt)
        if stmt.word == "stages":
            return self.stages(stmt, scope, x)
        self.no_arguments(stmt)
        return self.sequence(stmt.body, scope, x, stage)

    @staticmethod
    def require_body(stmt: T.Statement) -> None:
        if not stmt.body:
            raise invalid("E0210", f"`{stmt.word}` needs an indented block of statements", stmt.span, "empty",
                          f"indent the statements that belong to `{stmt.word}` under it")

    def structure_name(self, stmt: T.Statement, index: int) -> str:
        names = [a for a in stmt.args if isinstance(a, T.Name)]
        if len(stmt.args) > 1 or (stmt.args and not names):
            raise invalid("E0206", f"`{stmt.word}` takes at most a name", stmt.args[-1].span, "unexpected",
                          f"write `{stmt.word}` or `{stmt.word} NAME`, with its statements indented under it")
        return names[0].name if names else str(index)

    def no_arguments(self, stmt: T.Statement) -> None:
        extra = stmt.args or stmt.options or stmt.inputs
        if extra:
            raise invalid("E0206", f"`{stmt.word}` takes no arguments", extra[0].span, "unexpected",
                          f"`{stmt.word}` only groups the statements under it")

    def scope_body(self, stmt: T.Statement, scope, x: int) -> int:
        self.no_options(stmt)
        return self.sequence(stmt.body, scope, x)

    def no_options(self, stmt: T.Statement, allowed: tuple[str, ...] = ()) -> None:
        for option in stmt.options:
            if option.name not in allowed:
                hint = did_you_mean(option.name, allowed) or (
                    f"`{stmt.word}` takes: {', '.join(allowed)}" if allowed else f"`{stmt.word}` takes no options")
                raise invalid("E0203", f"`{stmt.word}` has no option `{option.name}`", option.name_span,
                              "unknown option", hint)

    def residual(self, stmt: T.Statement, scope, x: int) -> int:
        self.no_options(stmt, ("act",))
        act = self.ev.choice(stmt.option("act").value, "act", ("relu", "none")) if stmt.option("act") else "relu"
        branch = [s for s in stmt.body if s.word != "shortcut"]
        shortcuts = [s for s in stmt.body if s.word == "shortcut"]
        out = self.sequence(branch, scope, x)
        shortcut = x
        for extra in shortcuts[1:]:
            self.diagnostics.append(error("E0210", "a residual has one shortcut", extra.span, "second shortcut",
                                          "put every layer of the shortcut under the first `shortcut`"))
        if shortcuts:
            shortcut = self.sub_block(shortcuts[0], scope, x, None)
        out = self.em.add([out, shortcut], join(scope.prefix, "add"), stmt.span)
        return self.em.relu(out, join(scope.prefix, "relu"), stmt.span) if act == "relu" else out

    def concat(self, stmt: T.Statement, scope, x: int) -> int:
        self.no_options(stmt)
        outputs = []
        for index, branch in enumerate(stmt.body):
            if branch.word != "branch":
                self.diagnostics.append(error("E0210", "a concat holds only `branch` blocks", branch.word_span,
                                              f"`{branch.word}` here", "wrap the statements in `branch`"))
                continue
            outputs.append(self.sub_block(branch, scope, x, str(index)))
        if not outputs:
            raise invalid("E0210", "a concat needs at least one `branch`", stmt.span, "no branches",
                          "indent each path under `branch` inside the concat")
        return self.em.concat(outputs, scope.prefix, stmt.span)

    def sub_block(self, stmt: T.Statement, scope, x: int, default_name: str | None) -> int:
        """A `shortcut` or `branch`: its own flow from the enclosing block's input."""
        self.no_options(stmt)
        self.require_body(stmt)
        name = self.structure_name(stmt, 0) if stmt.args else default_name
        if stmt.args:
            self.check_new_name(scope, name, stmt, stmt.args[0].span)
        x = self.block_input(stmt, scope, x)
        inner = Scope(join(scope.prefix, name), x, scope) if name is not None else scope
        out = self.sequence(stmt.body, inner, x)
        if name is not None:
            self.define(scope, name, out, stmt)
        return out

    def stages(self, stmt: T.Statement, scope, x: int) -> int:
        if stmt.inputs:
            raise invalid("E0206", "`stages` takes no `from`", stmt.inputs[0].span, "unexpected",
                          "give the first row its input: `layer1 [...] from NAME`")
        kinds = [a for a in stmt.args if isinstance(a, T.Name)]
        if len(kinds) != len(stmt.args) or len(kinds) > 1 or (not kinds and stmt.options):
            raise invalid("E0207", "`stages` needs a block type", stmt.span, "which block type?",
                          "write `stages bottleneck` (block types: " + ", ".join(self.block_types())
                          + ")")
        if kinds and kinds[0].name not in self.user_blocks:
            self.block_type(kinds[0].name, kinds[0].span)
        outer, self.stage_count = self.stage_count, self.count_stage(stmt.body, kinds[0].name if kinds else None)
        outer_dilation, self.dilation = self.dilation, 1
        try:
            return self.sequence(stmt.body, scope, x, stage=stmt if kinds else None)
        finally:
            self.stage_count, self.dilation = outer, outer_dilation

    def block_types(self) -> list[str]:
        """The block types a `stages` line can name: the prelude's table blocks, the Python ones,
        and the spec's own blocks (the prelude's helpers left out)."""
        from archdsl.semantics import prelude

        return [*prelude.block_types(), *(name for name, b in self.user_blocks.items() if not b.bundled), *self.blocks]

    def block_type(self, name: str, span: Span) -> BlockType:
        if name not in self.blocks:
            hint = did_you_mean(name, self.block_types()) or "block types: " + ", ".join(self.block_types())
            raise invalid("E0201", f"unknown block type `{name}`", span, "not a block type", hint)
        return self.blocks[name]
