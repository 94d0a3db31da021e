"""The spec's text: header, block definitions, then the statements, names aligned per scope as in
the bundled specs."""

from __future__ import annotations

from archdsl.backends.importer.tree import Stmt
from archdsl.backends.importer.values import Param, write_value

#: names longer than this are not padded to a column
ALIGN_LIMIT = 16


def write_spec(name: str, input_size: tuple[int, int, int], root: Stmt, blocks: list, comment: str) -> str:
    """The whole spec."""
    lines = [f"# {comment}", f"network {name}", "input " + "x".join(str(s) for s in input_size), ""]
    for block in blocks:
        lines += block.lines() + [""]
    lines += write_body(root.body, 0)
    return "\n".join(lines) + "\n"


def write_body(body: list, depth: int) -> list[str]:
    """The statements of one scope, each scope's body indented under it."""
    width = max((len(st.label) for st in body if st.label and len(st.label) <= ALIGN_LIMIT and not st.is_scope),
                default=0)
    lines = []
    for st in body:
        lines.append("  " * depth + write_statement(st, width))
        if st.is_scope:
            lines += write_body(st.body, depth + 1)
    return lines


def write_statement(st: Stmt, width: int = 0) -> str:
    """One line: `[name] type args options [from a, b]`, or `scope [name] [from a]`."""
    if st.is_scope:
        words = ["scope", *([st.label] if st.label else [])]
    else:
        label = st.label.ljust(width) if st.label else ""
        words = [label] if label else []
        words += [st.op, *(write_value(a) for a in st.args), *write_options(st.opts)]
    if st.refs:
        words.append("from " + ", ".join(st.refs))
    return " ".join(w for w in words if w != "")


def write_options(opts: dict) -> list[str]:
    """`/2` for a whole-number stride (a parameter named stride too), `name=value` for the rest."""
    words = []
    for key, value in opts.items():
        if key == "stride" and (isinstance(value, int) and not isinstance(value, bool)):
            words.append(f"/{value}")
        elif key == "stride" and isinstance(value, Param) and value.name == "stride":
            words.append("stride=stride")
        else:
            words.append(f"{key}={write_value(value)}")
    return words
