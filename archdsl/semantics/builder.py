"""Syntax tree -> IR: walks the statements, resolving names and expanding blocks.

Structure words (`stem`, `head`, `scope`, `residual`, `concat`, `stages`) shape
the flow and the module paths; every other statement is a layer (see ops.py) or
a stage row (see blocks/). Errors are collected; a statement in error is skipped
and the walk goes on, so that one run reports everything.
"""

from __future__ import annotations

from dataclasses import replace

from archdsl.diagnostics import Diagnostic, Label, Span, did_you_mean, error
from archdsl.ir import nodes as N
from archdsl.ir.graph import Graph
from archdsl.semantics.blocks import registry
from archdsl.semantics.budget import Budget
from archdsl.semantics.control import CONDITIONS, CONTROL, SECTIONS, Control
from archdsl.semantics.emit import Emitter, join
from archdsl.semantics.instances import BlockUses
from archdsl.semantics.ops import OPS, Call, check_call, value_inputs
from archdsl.semantics.reserved import why_reserved
from archdsl.semantics.rows import read_row
from archdsl.semantics.spelling import layer_type_hint
from archdsl.semantics.scope import MADE_BY, PerStatement, Scope
from archdsl.semantics.structures import Structures
from archdsl.semantics.values import Evaluator, Invalid, Unknown, invalid
from archdsl.syntax import tree as T
from archdsl.syntax.parser import NEGATIVE

HEADER_WORDS = ("network", "input", "param", "default")
STRUCTURE = SECTIONS + ("scope", "residual", "concat", "stages", "shortcut", "branch")
EXAMPLE_OUTPUT = "output from c3, c4, c5"


class Builder(BlockUses, Control, Structures):
    def __init__(self, graph: Graph, evaluator: Evaluator, defaults: dict[str, dict[str, T.Option]],
                 diagnostics: list[Diagnostic], budget: Budget, user_blocks: dict | None = None):
        self.graph = graph
        self.ev = evaluator
        self.defaults = defaults
        self.diagnostics = diagnostics
        self.em = Emitter(graph, diagnostics, budget)
        self.blocks = registry()
        self.user_blocks = user_blocks or {}
        self.root_params = evaluator.params
        evaluator.properties = self.property_of
        self.uses: list = []  # the user-block instances being built, outermost first, with their uses
        self.entries: list[dict] = []  # the table entries of each instance in self.uses (name -> span)
        self.respanned: dict = {}  # the bodies of prelude blocks, spanned at their uses (BlockUses.body_of)
        #: block instances kept for others of the same block, use, values and input type (BlockUses.unit)
        self.made_instances: dict = {}
        self.unit_readers: dict[str, bool] = {}  # block name -> whether its units read `unit` (BlockUses.reads_unit)
        self.split_names: PerStatement[tuple] = PerStatement()  # each statement's split_name (`parts`)
        self.checked_calls: PerStatement[None] = PerStatement()  # the layer statements check_call passed
        self._known: dict | None = None  # every word a statement's type can be (known_words)
        self.stage_count = None
        self.dilation = 1  # the running dilation of the rows of the `stages` section being built
        self.lets: set[str] = set()
        self.current_scope: Scope | None = None
        self.library_failed = False  # a `use` failed: unknown layer types may be its blocks

    # --- walking ---------------------------------------------------------

    def sequence(self, statements, scope: Scope, x: int, stage: T.Statement | None = None) -> int:
        """Run statements one after another; each takes the previous one's value by default."""
        chain = None  # within an if/elif/else chain: whether one of its branches ran
        for stmt in statements:
            self.current_scope = scope
            try:
                start, made = len(self.graph), MADE_BY.get()
                if stmt.word in CONDITIONS:
                    x, chain = self.condition(stmt, scope, x, stage, chain)
                else:
                    chain = None
                    x = self.statement(stmt, scope, x, stage)
                if made is not None:
                    made.append((stmt, start, len(self.graph)))
            except (Invalid, Unknown) as exc:
                if isinstance(exc, Invalid):
                    self.diagnostics.append(exc.diagnostic)
                if stmt.word in CONDITIONS:
                    chain = True  # the chain's other branches would only echo the error
                elif stmt.word not in HEADER_WORDS + CONTROL:
                    x = self.untyped_stand_in(stmt, scope, x)
            self.current_scope = scope
        return x

    def untyped_stand_in(self, stmt: T.Statement, scope: Scope, x: int) -> int:
        """After a statement fails, what follows reads a value of unknown type, so the checks
        downstream stay quiet about consequences of the error already reported; a name the
        statement would have defined refers to it too."""
        name = stmt.word if stmt.word not in self.known_words() else None
        node = N.Identity(id=len(self.graph), inputs=(x,), path=join(scope.prefix, name or "error"),
                          span=stmt.span)
        self.graph.add(node)
        if name is not None:
            self.define(scope, name, node.id, stmt)
        return node.id

    def statement(self, stmt: T.Statement, scope: Scope, x: int, stage) -> int:
        word = stmt.word
        if word == "output" and is_declaration(stmt, self.known_words()):
            raise invalid("E0210", "`output` belongs at the top level of the spec", stmt.word_span,
                          "not allowed here", "declare the network's outputs once, unindented, as the spec's last "
                          f"statement: `{EXAMPLE_OUTPUT}`")  # the top level's is read by outputs.py
        if word not in STRUCTURE and word != "block" and stmt.body:
            raise not_a_block(stmt)
        if word in HEADER_WORDS:
            if scope.parent is not None:
                raise invalid("E0210", f"`{word}` belongs at the top of the spec", stmt.word_span,
                              "not allowed here", f"move `{word}` to the top level, before the layers")
            if stmt.inputs:
                raise invalid("E0206", f"`{word}` takes no `from`", stmt.inputs[0].span, "unexpected",
                              "`from` names the input of a layer or a block")
            return x
        if (word in SECTIONS and not names_a_layer(stmt, self.known_words())) or word == "stages":
            return self.section(stmt, scope, x, stage)
        if word in CONTROL:
            return self.control(stmt, scope, x)
        stmt = self.substitute(stmt)
        if stmt is None:  # an activation parameter set to `none`: no layer
            return x
        word = stmt.word
        index = scope.next_index()
        if word.isdigit():
            index = self.position(stmt, scope, index)
        if word in STRUCTURE and word not in SECTIONS and not (word == "concat" and stmt.inputs and not stmt.body):
            return self.structure(stmt, scope, x, index, stage)
        name, op, args = self.parts(stmt)
        if name is None and op is not None and op.name not in self.known_words() and stage is not None \
                and stage.args and stage.args[0].name in self.user_blocks:
            name, op, args = op.name, None, stmt.args  # `s1 8 repeat=2`: a row of the section's block
        if op is not None and op.name == "split":
            scope.count -= 1  # a split makes views, not a module: it takes no position
            return self.split(stmt, scope, x, name, args)
        if name is not None and not self.called_again(scope, name, op):
            self.check_new_name(scope, name, stmt)
        if op is not None and op.name in self.user_blocks:
            inherited = stage.options if stage is not None and stage.args[0].name == op.name else ()
            return self.use_block(stmt, scope, x, name, self.user_blocks[op.name], args, index, inherited)
        if op is None or op.name in self.blocks or any(isinstance(a, T.ListValue) for a in args):
            return self.row(stmt, scope, x, name or str(index), op, args, stage)
        try:
            return self.layer(stmt, scope, x, name, op, args, index)
        except Invalid as exc:
            raise (self.misspelt_type(exc, op, args) if name is None else exc) from None

    def misspelt_type(self, exc: Invalid, op: T.Name, args) -> Invalid:
        """`relu rellu`, `avgpool global_avg_pool`: a layer named like its type, with the type misspelt,
        reads as a layer of the type its name spells given a word that is no value, and fails at that
        word (an unknown parameter, an argument too many). Said instead as for any unknown layer type
        (E0201 with its "did you mean") where the word is near a layer type and near no parameter.
        Searched only after the failure, so a spec that checks clean costs no search."""
        first = args[0] if args and isinstance(args[0], T.Name) else None
        d = exc.diagnostic
        if first is None or d.span != first.span or (d.code, d.help.split(":")[0]) not in (
                ("E0205", "declare it with `param NAME = VALUE`"), ("E0206", f"{op.name} takes")):
            return exc  # a near parameter, or a type word already explained (`relu ReLU`), stands
        hint = layer_type_hint(first.name, (*self.known_words(), *HEADER_WORDS))
        if not hint:
            return exc
        return invalid("E0201", f"unknown layer type `{first.name}`", first.span, "not a layer type", hint)

    def parts(self, stmt: T.Statement) -> tuple[str | None, T.Name | None, tuple]:
        """split_name of a statement, worked out once: a block's body is walked once per instance."""
        return self.split_names.get(stmt, lambda: split_name(stmt, self.known_words()))

    def known_words(self) -> dict:
        """Every word a statement's type can be, in order (a dict: looked up once per statement, often)."""
        if self._known is None:
            self._known = dict.fromkeys((*OPS, *self.blocks, *self.user_blocks, *STRUCTURE, "split"))
        return self._known

    def control(self, stmt: T.Statement, scope: Scope, x: int) -> int:
        """`let`, `require`; `block` and `use`, read before the walk, at the top level only."""
        word = stmt.word
        if word in ("block", "use"):
            if scope.parent is not None or self.uses:
                raise invalid("E0210", f"`{word}` belongs at the top of the spec", stmt.word_span, "not allowed here",
                              f"move `{word}` to the top level; a block cannot be defined inside another")
            return x
        if stmt.body:
            raise not_a_block(stmt)
        if word == "let":
            self.let(stmt)
        else:
            self.require(stmt)
        return x

    def substitute(self, stmt: T.Statement) -> T.Statement | None:
        """A statement whose layer type is a word-valued parameter (`act` in a block taking
        `act=relu6`), with the word in its place; None where the word is `none`."""
        params = self.ev.params
        head = stmt.args[0] if stmt.args and isinstance(stmt.args[0], T.Name) else None
        if stmt.body or (stmt.word not in params and (head is None or head.name not in params)):
            return stmt  # nothing here names a parameter (most statements)

        def word_of(name: str):
            value = params.get(name)
            if not isinstance(value, str) or value in ("true", "false") or name in self.known_words():
                return None
            return value

        if word_of(stmt.word) is not None:
            value = word_of(stmt.word)
            return None if value == "none" else replace(stmt, word=value)
        if head is not None and word_of(head.name) is not None:
            value = word_of(head.name)
            return None if value == "none" else replace(stmt, args=(T.Name(value, head.span), *stmt.args[1:]))
        return stmt

    def position(self, stmt: T.Statement, scope: Scope, index: int) -> int:
        """A statement named by a number takes that position (as in nn.Sequential); the unnamed
        statements after it continue from there. Positions only go forward."""
        wanted = int(stmt.word)
        if wanted < index:
            raise invalid("E0225", f"position {wanted} comes before this statement's place ({index})", stmt.word_span,
                          "already passed", f"positions only go forward: name it {index} or more, or leave it "
                          "unnamed to take the next one")
        scope.count = wanted + 1
        return wanted

    # --- rows and layers -------------------------------------------------

    def row(self, stmt: T.Statement, scope: Scope, x: int, name: str, op: T.Name | None, args, stage) -> int:
        if op is None and stage is None:
            raise invalid("E0207", "a stage row needs a block type", stmt.span, "which block type?",
                          f"write `{name} bottleneck [...]`, or put the row under `stages bottleneck`")
        if op is None and stage.args[0].name in self.user_blocks:
            index = int(name) if name.isdigit() else 0
            named = None if name.isdigit() else name
            return self.use_block(stmt, scope, x, named, self.user_blocks[stage.args[0].name], args, index,
                                  stage.options)
        block = self.block_type(*((op.name, op.span) if op else (stage.args[0].name, stage.args[0].span)))
        inherited = stage.options if stage is not None else ()
        row = read_row(stmt, name, join(scope.prefix, name), block, args, inherited, self.ev, self.defaults)
        start = self.block_input(stmt, scope, x)
        with self.em.frame("row", row.path, block.name):
            out = block.expand(row, self.em, start)
        self.define(scope, name, out, stmt)
        return out

    def layer(self, stmt: T.Statement, scope: Scope, x: int, name: str | None, op_name: T.Name, args,
              index: int) -> int:
        op = op_name.name
        if op not in OPS:
            negated = negated_layer_argument(args)
            if negated is not None:
                raise invalid("E0102", NEGATIVE[0], minus_sign(negated), NEGATIVE[1], NEGATIVE[2])
            if self.library_failed:
                raise Unknown()  # most likely a block of the library that could not be read
            hint = layer_type_hint(op, (*self.known_words(), *HEADER_WORDS)) or \
                "see docs/language.md for the list of layers"
            raise invalid("E0201", f"unknown layer type `{op}`", op_name.span, "not a layer type", hint)
        definition = OPS[op]
        path = join(scope.prefix, name if name is not None else str(index))
        call = Call(stmt, op, args, self.ev, self.defaults.get(op, {}), path)
        self.checked_calls.get(stmt, lambda: check_call(call, definition))  # it reads the statement's own text
        inputs = self.inputs(stmt, scope, x, op, definition.arity) + \
            value_inputs(call, definition, lambda ref: self.resolve(ref, scope))
        before = len(self.diagnostics)
        out = definition.build(call, self.em, inputs)
        if call.from_defaults:
            self.diagnostics[before:] = call.blame_defaults(self.diagnostics[before:])
        if name is not None:
            self.define(scope, name, out, stmt)
        return out

    def inputs(self, stmt: T.Statement, scope: Scope, x: int, op: str, arity: tuple[int, int]) -> list[int]:
        if not stmt.inputs:
            if arity[0] > 1:
                raise invalid("E0207", f"{op} needs its inputs", stmt.span, "which values?",
                              f"name them: `{op} from a, b`")
            return [x]
        if not arity[0] <= len(stmt.inputs) <= arity[1]:
            expected = arity[0] if arity[0] == arity[1] else f"{arity[0]} or more"
            example = "a" if arity[1] == 1 else ", ".join("abcdefgh"[:arity[0]])
            join_first = "; join several values first with `add` or `concat`" if arity[1] == 1 else ""
            blamed = stmt.inputs[arity[1]] if len(stmt.inputs) > arity[1] else stmt.inputs[0]
            raise invalid("E0206", f"{op} takes {expected} input(s), got {len(stmt.inputs)}", blamed.span,
                          "wrong number of inputs", f"list the values after `from`: `{op} from {example}`{join_first}")
        return [self.resolve(ref, scope) for ref in stmt.inputs]

    def block_input(self, stmt: T.Statement, scope: Scope, x: int) -> int:
        """What a block or stage row starts from: the value `from` names, else `x`."""
        if not stmt.inputs:
            return x
        if len(stmt.inputs) > 1:
            raise invalid("E0206", f"`{stmt.word}` takes one input, got {len(stmt.inputs)}", stmt.inputs[1].span,
                          "one too many", f"a block starts from one value: `from {stmt.inputs[0].name}`; "
                          "join several first with `add` or `concat`")
        return self.resolve(stmt.inputs[0], scope)

    def resolve(self, ref: T.Name, scope: Scope) -> int:
        found = scope.lookup(ref.name)
        base = scope.lookup(ref.name.split(".", 1)[0]) if found is None and "." in ref.name else None
        if base is not None and self.graph[base].type is None:
            return base  # a part of a split that failed: reported already
        if found is None:
            inside = [name for name in scope.visible() if name.endswith("." + ref.name)]
            hint = did_you_mean(ref.name, scope.visible()) or (
                f"a value inside a scope is read after it by its scope's name: `{inside[0]}`" if inside
                else "refer to a layer defined above, or `input`")
            raise invalid("E0204", f"unknown value `{ref.name}`", ref.span, "not defined before this point", hint)
        return found

    def called_again(self, scope: Scope, name: str, op: T.Name | None) -> bool:
        """`relu relu` a second time in one scope: the name of a layer without state, given again to
        a layer of its type, is one module called again (torchvision's blocks call their `relu`
        three times); the name then means the latest value."""
        if op is None or name not in scope.names:
            return False
        first = self.graph[scope.names[name][0]]
        if first.op != op.name or not first.inputs or self.graph[first.inputs[0]].type is None:
            return False
        if first.state(self.graph[first.inputs[0]].type):
            return False
        del scope.names[name]
        return True

    def check_new_name(self, scope: Scope, name: str, stmt: T.Statement, span: Span | None = None) -> None:
        reason = why_reserved(name)
        if reason is not None:
            raise invalid("E0213", f"`{name}` cannot name a layer or block", span or stmt.word_span,
                          "reserved name", f"{reason}; rename it, e.g. `{name.strip('_') or 'layer'}_1`")
        if name in scope.names:
            _, first = scope.names[name]
            raise Invalid(error("E0202", f"`{join(scope.prefix, name)}` is defined twice", stmt.span,
                                "defined again here", "give each layer its own name",
                                (Label(first, "first defined here"),)))

    def define(self, scope: Scope, name: str, node_id: int, stmt: T.Statement) -> None:
        scope.names.setdefault(name, (node_id, stmt.span))


def not_a_block(stmt: T.Statement) -> Invalid:
    """The error for lines indented under a statement that opens no block: a misspelt block word
    (`residul`, `Residual`), a tab that counts 8 columns, or indentation that does not belong."""
    word = stmt.word
    meant = word.lower() if word.lower() in STRUCTURE else did_you_mean(word, STRUCTURE)
    if meant:
        return invalid("E0201", f"unknown block word `{word}`", stmt.word_span, "opens a block, but is not a block "
                       "word", f"write `{meant}`" if meant in STRUCTURE else meant)
    first = stmt.body[0].span
    indent = first.source.line(first.line)[:first.col - 1] if first.source else ""
    help = (f"a tab counts as 8 columns, so this line sits deeper than `{word}`; indent with spaces, or tabs "
            "alone, the same on every line of a block") if "\t" in indent else \
        "only " + ", ".join(STRUCTURE) + " open an indented block"
    return invalid("E0104", "unexpected indentation", first, f"indented under `{word}`, which does not open a block",
                   help)


def is_declaration(stmt: T.Statement, known) -> bool:
    """Whether `stmt` declares the network's outputs (`output from a, b`), rather than being a layer
    named `output` (`output linear 10`: its first argument is a layer or block type)."""
    first = stmt.args[0] if stmt.args else None
    return stmt.word == "output" and not (isinstance(first, T.Name) and first.name in known)


def names_a_layer(stmt: T.Statement, known) -> bool:
    """`head linear 1000`: a section word naming a layer (torchvision's ViT has `heads.head`), told
    from a section by its layer type and the body it lacks."""
    first = stmt.args[0] if stmt.args else None
    return not stmt.body and isinstance(first, T.Name) and first.name in known


def split_name(stmt: T.Statement, known) -> tuple[str | None, T.Name | None, tuple]:
    """`conv1 conv 64 3x3` -> ('conv1', conv, args); `conv 64 3x3` -> (None, conv, args).

    The op comes back as a Name (with its span). A row without a block type
    (`layer1 [3, ...]`) gives ('layer1', None, args).
    """
    args = stmt.args
    first = args[0] if args and isinstance(args[0], T.Name) else None
    if first is not None and (first.name in known or stmt.word not in known):
        return stmt.word, first, args[1:]
    if stmt.word not in known and args and isinstance(args[0], T.ListValue):
        return stmt.word, None, args
    return None, T.Name(stmt.word, stmt.word_span), args


def make_input(graph: Graph, em: Emitter, span: Span | None) -> int:
    node = N.Input(id=0, path="input", span=span, type=graph.input_type)
    graph.add(node)
    em.budget.add(node, graph)
    return node.id


def negated_layer_argument(args) -> T.BinOp | None:
    """`c conv -5 3x3` parses as a layer of type `c` whose first argument is `conv - 5`: the
    subtraction, where its left side is a layer type, as a misread negative number."""
    first = args[0] if args else None
    if isinstance(first, T.BinOp) and first.op == "sub" and isinstance(first.left, T.Name) and first.left.name in OPS:
        return first
    return None


def minus_sign(subtraction: T.BinOp) -> Span:
    """Where the `-` of a one-line subtraction stands."""
    left = subtraction.left.span
    text = left.source.line(left.end_line) if left.source else ""
    col = text.find("-", left.end_col - 1) + 1 or left.end_col
    return Span(left.source, left.end_line, col, left.end_line, col + 1)
