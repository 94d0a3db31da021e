"""The network's outputs: the last statement's value, or the values a top-level `output from a, b`
lists (a detection or segmentation network's heads, a backbone's feature maps).

`output` is the spec's last statement (block definitions may follow it). A statement whose word
is `output` and whose first argument is a layer or block type is a layer named `output`, as
before the declaration existed (`output linear 10`).
"""

from __future__ import annotations

from archdsl.diagnostics import Diagnostic, Label, error
from archdsl.ir import nodes as N
from archdsl.semantics.builder import EXAMPLE_OUTPUT as EXAMPLE, is_declaration, not_a_block
from archdsl.semantics.values import Invalid, Unknown
from archdsl.syntax import tree as T

#: what may follow the outputs: definitions, which build nothing in the flow
AFTER_OUTPUT = ("block", "use")


def build_outputs(builder, statements, scope, x: int, fallback_span) -> None:
    """Walk the top-level `statements` from `x` and emit the output node: the values the first
    `output` declaration lists, else the last value. What follows the declaration is reported,
    then walked all the same, so that its own mistakes are found in the same run."""
    known = builder.known_words()
    statements = _choose_output_branches(builder, statements, known)
    at = next((i for i, stmt in enumerate(statements) if is_declaration(stmt, known)), None)
    if at is None:
        x = builder.sequence(statements, scope, x)
        builder.em.emit(N.Output, [x], "output", builder.graph[x].span or fallback_span)
        return
    declaration, after = statements[at], statements[at + 1:]
    x = builder.sequence(statements[:at], scope, x)
    listed = _read(declaration, builder, scope)
    builder.diagnostics.extend(_after_problems(declaration, after, known))
    builder.sequence([stmt for stmt in after if not is_declaration(stmt, known)], scope, x)
    ids, names = zip(*listed) if listed else ((x,), None)
    builder.em.emit(N.Output, list(ids), "output", declaration.span, names=names)


def _choose_output_branches(builder, statements, known) -> list:
    """The top-level statements with each `if`/`elif`/`else` chain whose branches declare outputs
    replaced by the branch its condition takes (a parameter choosing the outputs: `aux_loss`).
    The statements of a branch stay in the enclosing scope anyway; a condition that cannot be
    evaluated leaves the chain as it is, for the walk to report."""
    out: list = []
    i = 0
    while i < len(statements):
        stmt = statements[i]
        if stmt.word != "if":
            out.append(stmt)
            i += 1
            continue
        chain = [stmt]
        while i + len(chain) < len(statements) and statements[i + len(chain)].word in ("elif", "else") \
                and chain[-1].word != "else":
            chain.append(statements[i + len(chain)])
        i += len(chain)
        if not any(is_declaration(s, known) for branch in chain for s in branch.body):
            out.extend(chain)
            continue
        try:
            taken = next((b for b in chain if b.word == "else" or builder.ev.truth(b.args[0], f"`{b.word}`")), None)
        except (Invalid, Unknown, IndexError):
            out.extend(chain)
            continue
        out.extend(taken.body if taken is not None else ())
    return out


def _read(declaration: T.Statement, builder, scope) -> list[tuple[int, str]] | None:
    """The (value, name) pairs `declaration` lists; None after reporting what is wrong with it."""
    problem = _form(declaration)
    if problem is not None:
        builder.diagnostics.append(problem)
        return None
    listed: dict[str, tuple[int, T.Name]] = {}
    failed = False
    for ref in declaration.inputs:
        try:
            value = builder.resolve(ref, scope)
        except Invalid as exc:
            builder.diagnostics.append(exc.diagnostic)
            failed = True
            continue
        if ref.name in listed:
            builder.diagnostics.append(error(
                "E0202", f"`{ref.name}` is listed twice in `output`", ref.span, "listed again here",
                "list each output once", (Label(listed[ref.name][1].span, "first listed here"),)))
            failed = True
            continue
        listed[ref.name] = (value, ref)
    return None if failed else [(value, name) for name, (value, _) in listed.items()]


def _form(declaration: T.Statement) -> Diagnostic | None:
    """What is wrong with the shape of an `output` line: a body, arguments, options, or no `from`."""
    if declaration.body:
        return not_a_block(declaration).diagnostic
    extra = declaration.args or declaration.options
    if extra:
        words = [a.name for a in declaration.args if isinstance(a, T.Name)]
        fix = f"output from {', '.join(words)}" if words and len(words) == len(extra) else EXAMPLE
        return error("E0206", "`output` lists the values it returns after `from`", extra[0].span, "unexpected",
                     f"write `{fix}`")
    if not declaration.inputs:
        return error("E0207", "`output` needs the values the network returns", declaration.span, "which values?",
                     f"list them: `{EXAMPLE}`; without an `output` line the network returns the last "
                     "statement's value")
    return None


def _after_problems(declaration: T.Statement, after, known) -> list[Diagnostic]:
    """E0202 for a second declaration; E0210, once, for a statement that builds after the outputs."""
    found = []
    first_here = Label(declaration.span, "the outputs are declared here")
    for stmt in after:
        if is_declaration(stmt, known):
            found.append(error("E0202", "the outputs are declared twice", stmt.span, "second `output`",
                               "list every output in one `output from` line", (first_here,)))
    late = next((stmt for stmt in after if stmt.word not in AFTER_OUTPUT and not is_declaration(stmt, known)), None)
    if late is not None:
        found.append(error("E0210", "a statement after `output`", late.span, "after the network's outputs",
                           "`output` ends the network: move it below the last layer (only `block` and `use` "
                           "may follow it)", (first_here,)))
    return found
