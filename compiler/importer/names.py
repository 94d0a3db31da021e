"""Names and data flow of an imported spec: where each statement sits in its scope (an unnamed
statement is named by its position, as in nn.Sequential), and the `from` each one needs."""

from __future__ import annotations

from archdsl.backends.importer.refusal import refuse, user_line
from archdsl.backends.importer.tree import Stmt, defined_values

#: layers that read several values: always written with `from`
MERGES = {"add", "mul", "concat"}
#: words that open or declare something at the start of a line: a layer cannot be named so (a scope can)
STATEMENT_WORDS = {"stem", "head", "body", "scope", "residual", "shortcut", "concat", "branch", "stages", "block",
                   "use", "let", "if", "elif", "else", "require", "network", "input", "param", "default"}


def place(scope: Stmt, taken: set[str]) -> None:
    """Give every statement of every scope its label (the name written, or None for its position)
    and `position`; a scope at a numeric module path is unnamed, so it must fall on its number."""
    numeric = {st.name for st in scope.body if st.fixed and st.name.isdecimal()}
    counter, body = 0, []
    for st in scope.body:
        if st.fixed and not st.is_scope and st.name in STATEMENT_WORDS:
            refuse("E0805", f"`{st.path}` is named `{st.name}`, a word that starts a statement of the language: "
                            "a layer cannot have that name", label="made here",
                   where=user_line(st.node.meta.get("stack_trace")) if st.node is not None else None,
                   help=f"rename the attribute (`self.{st.name}`), or wrap the layer in a module of its own")
        if st.fixed and st.name.isdecimal():
            n = int(st.name)
            if counter > n:
                refuse("E0805", f"`{st.path}` cannot be placed: {counter} statements come before it in its scope",
                       where=user_line(st.node.meta.get("stack_trace")) if st.node is not None else None,
                       help="a spec names a numbered module by its position in its scope; ops before it leave "
                            "no position free")
            if writes_position(st) and counter < n:
                body.append(Stmt("identity", label=str(n - 1), position=n - 1, filler=True))
            st.label = None if writes_position(st) else st.name
            st.position, counter = n, n + 1
        elif st.op == "split":  # takes no position; named where a part is read
            st.position = None
        else:
            st.label = st.name if st.fixed else (fresh(st.op, taken) if str(counter) in numeric else None)
            st.position, counter = counter, counter + 1
        body.append(st)
        if st.is_scope:
            place(st, taken)
    scope.body = body


def writes_position(st: Stmt) -> bool:
    """A scope cannot carry a number as its name: its position gives it."""
    return st.is_scope


def fresh(base: str, taken: set[str]) -> str:
    """`base`, or `base_2`, `base_3`, ...: a name no statement of the spec has."""
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def all_names(stmt: Stmt) -> set[str]:
    """The names the module paths give (they cannot change)."""
    names = {stmt.name} if stmt.fixed and stmt.name else set()
    for child in stmt.body or []:
        names |= all_names(child)
    return names


def connect(root: Stmt, taken: set[str]) -> None:
    """Fill each statement's `refs` (its `from` list; empty where it reads the value before it)."""
    owners = {}
    _owners(root, owners)
    _connect(root, root.value_in, [], taken, owners)


def _owners(stmt: Stmt, owners: dict) -> None:
    for child in stmt.body or []:
        if child.is_scope:
            for v in defined_values(child):
                owners.setdefault(v, child)
            _owners(child, owners)


def _connect(scope: Stmt, given, outer: list, taken: set[str], owners: dict) -> None:
    frame = (scope, {}, given)
    chain = [*outer, frame]
    previous = given
    for st in scope.body:
        if st.filler:  # an identity that only moves the position on: it hands on the value before it
            st.inputs, st.value = [previous], previous
        if st.is_scope:
            main = previous if previous in st.inputs or not st.inputs else st.inputs[0]
            st.refs = [] if main is previous else [_ref(main, chain, taken, owners, st)]
            st.value_in = main
            _connect(st, main, chain, taken, owners)
        elif len(st.inputs) == 1 and st.inputs[0] is previous and st.op not in MERGES:
            st.refs = []
        else:
            st.refs = [_ref(v, chain, taken, owners, st) for v in st.inputs]
        if not st.filler:
            frame[1][st.value] = st
        for part in st.parts:
            frame[1][part] = st
        previous = st.value


def _ref(value, chain: list, taken: set[str], owners: dict, user: Stmt) -> str:
    """How `value` is named from the innermost scope of `chain`."""
    for depth in range(len(chain) - 1, -1, -1):
        scope, defined, given = chain[depth]
        if value in defined:
            label = _label(defined[value], taken)
            if defined[value].parts and value is not defined[value].value:
                label = f"{label}.{value.args[1]}"
            if any(_shadows(label, inner) for inner in chain[depth + 1:]):
                break
            return label
        if value is given and depth == len(chain) - 1:
            return "input"
    owner = owners.get(value)
    what = f"a value made inside `{owner.path}` that is not its last" if owner is not None else "a value"
    refuse("E0805", f"`{user.path or user.op}` reads {what}: a scope hands on one value, its last",
           where=user_line(user.node.meta.get("stack_trace")) if user.node is not None else None,
           label="reads it here",
           help="a module's forward that returns one value and hands others out another way (an attribute, "
                "a hook) cannot be imported")


def _label(st: Stmt, taken: set[str]) -> str:
    if st.label:
        return st.label
    if st.is_scope:
        return str(st.position)
    st.label = fresh("parts" if st.op == "split" else st.op, taken)
    return st.label


def _shadows(label: str, frame) -> bool:
    return any((st.label or str(st.position)) == label for st in frame[1].values())
