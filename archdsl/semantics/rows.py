"""Reading a stage row: the `[repeat, [[channels, kernel], ...]]` table, stride and options."""

from __future__ import annotations

from archdsl.diagnostics import did_you_mean
from archdsl.semantics.blocks import BlockType, ConvEntry, Row
from archdsl.semantics.values import Evaluator, check_stride_place, invalid
from archdsl.syntax import tree as T

#: block options that fall back to a `default conv ...` / `default bn ...` statement
FROM_DEFAULTS = {"bias": "conv", "eps": "bn", "momentum": "bn"}


def read_row(stmt: T.Statement, name: str, path: str, block: BlockType, args, inherited, ev: Evaluator,
             defaults: dict) -> Row:
    tables = [a for a in args if isinstance(a, T.ListValue)]
    strides = [a for a in args if isinstance(a, T.Stride)]
    others = [a for a in args if not isinstance(a, (T.ListValue, T.Stride))]
    if others or len(tables) > 1 or len(strides) > 1:
        extra = (others + tables[1:] + strides[1:])[0]
        raise invalid("E0206", "unexpected argument in a stage row", extra.span, "unexpected",
                      f"a row reads `{block.example or 'name [repeat, [[channels, kernel], ...]] /stride'}`")
    if block.table and not tables:
        raise invalid("E0211", f"a `{block.name}` row needs a stage table", stmt.span, "no table",
                      f"write it like `{block.example}`")
    if tables and not block.table:
        raise invalid("E0211", f"a `{block.name}` row takes no stage table", tables[0].span, "unexpected table",
                      f"write it like `{block.example}`")
    if strides:
        check_stride_place(stmt, strides[0], tables, block.example or f"{name} [...] /2")
    repeat, convs = read_table(tables[0], block.name, block.example, block.convs, ev) if tables else (1, ())
    stride = strides[0].value if strides else 1
    if stride < 1:
        raise invalid("E0209", "stride must be at least 1", strides[0].span, "got 0",
                      "write /2 to halve the size, or no stride to keep it")
    options = read_options(stmt, block, inherited, ev, defaults)
    spans = {o.name: o.span for o in (*inherited, *stmt.options)}
    return Row(name, path, repeat, convs, stride, options, stmt.span, spans)


def read_table(table: T.ListValue, block: str, example: str, count, ev: Evaluator
               ) -> tuple[int, tuple[ConvEntry, ...]]:
    """A stage table's repeat count and [channels, kernel] entries, for a row of type `block`
    (`example`: how its rows read); `count`, how many entries it must list: a number, a
    (fewest, most) pair, or None for any."""
    shape_help = f"a stage table reads [repeat, [[channels, kernel], ...]], e.g. `{example}`"
    if len(table.items) != 2 or not isinstance(table.items[1], T.ListValue):
        raise invalid("E0211", "malformed stage table", table.span, "expected [repeat, [[channels, kernel], ...]]",
                      shape_help)
    repeat = ev.int_(table.items[0], "the repeat count")
    entries = []
    for item in table.items[1].items:
        if not isinstance(item, (T.ListValue, T.TupleValue)) or len(item.items) != 2:
            raise invalid("E0211", "malformed conv entry in a stage table", item.span,
                          "expected [channels, kernel]", shape_help)
        channels = ev.int_(item.items[0], "channels")
        entries.append(ConvEntry(channels, ev.pair(item.items[1], "kernel"), item.span))
    if not entries:
        raise invalid("E0211", "a stage table lists no convs", table.items[1].span, "empty", shape_help)
    low, high = (count, count) if isinstance(count, int) else count or (1, len(entries))
    if not low <= len(entries) <= high:
        counted = str(low) if low == high else f"{low} to {high}"
        raise invalid("E0211", f"a `{block}` block lists {counted} convs, not {len(entries)}",
                      table.items[1].span, "wrong number of convs", shape_help)
    return repeat, tuple(entries)


def read_options(stmt: T.Statement, block: BlockType, inherited, ev: Evaluator, defaults: dict) -> dict:
    given = {o.name: o for o in (*inherited, *stmt.options)}
    for name, option in given.items():
        if name not in block.options:
            hint = did_you_mean(name, block.options) or f"`{block.name}` takes: " + (", ".join(block.options) or "none")
            raise invalid("E0203", f"`{block.name}` has no option `{name}`", option.name_span, "unknown option", hint)
    values = {}
    for name, spec in block.options.items():
        option = given.get(name) or defaults.get(FROM_DEFAULTS.get(name, ""), {}).get(name)
        values[name] = spec.default if option is None else spec.read(ev, option.value, name)
    return values
