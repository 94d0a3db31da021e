"""The traced graph as a tree of statements: one `scope` per module on a layer's path, so each
layer keeps its module path (and the state_dict its keys), and a layer per fx node."""

from __future__ import annotations

import operator
from collections import Counter
from dataclasses import dataclass, field

import torch.fx as fx

from archdsl.backends.importer.layers import CHANNELS_LAST, FLAT, IMAGE, Alias, Layer, Unsupported, layer_of
from archdsl.backends.importer.refusal import refuse, user_line
from archdsl.backends.importer.trace import shape


@dataclass(eq=False)
class Stmt:
    """One statement of the spec: a layer, a scope of module path `path`, or (after blocks.py) a use
    of a block. `name` is the module path's last part where it has one (`fixed`), else None."""

    op: str
    args: list = field(default_factory=list)
    opts: dict = field(default_factory=dict)
    inputs: list = field(default_factory=list)
    value: object = None
    name: str | None = None
    fixed: bool = False
    body: list | None = None
    path: str = ""
    cls: type | None = None
    node: object = None
    label: str | None = None
    refs: list = field(default_factory=list)
    position: int = 0
    value_in: object = None
    filler: bool = False
    parts: list = field(default_factory=list)

    @property
    def is_scope(self) -> bool:
        return self.body is not None


class Context:
    """What the layer mapping asks of the graph: modules, shapes, layouts, training-mode flags."""

    def __init__(self, module, train_graph_args: dict):
        self.root = module
        self.modules = dict(module.named_modules())
        self.layouts: dict = {}
        self.train_args = train_graph_args

    def module(self, target: str):
        return self.modules[target]

    def shape(self, value):
        return shape(value)

    def is_tensor(self, value) -> bool:
        return shape(value) is not None

    def layout(self, value) -> str:
        if value in self.layouts:
            return self.layouts[value]
        s = shape(value)
        if s is None:
            return "no tensor"
        return IMAGE if len(s) == 4 else FLAT if len(s) == 2 else f"{len(s)}-d"

    def training_flags(self, node) -> tuple:
        """A call's `training` argument when traced in eval mode and in training mode."""
        from archdsl.backends.importer.layers import arg

        return arg(node, 2, "training", True), self.train_args.get(node.name, {}).get("training", True)

    def layer_scale(self, node):
        """`parameter * x` with a (C, 1, 1) parameter: ConvNeXt's layer scale, a layer named by the parameter."""
        params = [a for a in node.args if isinstance(a, fx.Node) and a.op == "get_attr"]
        others = [a for a in node.args if a not in params]
        if len(params) != 1 or len(others) != 1 or shape(others[0]) is None:
            return None
        target = params[0].target
        weight = self.root.get_parameter(target) if _is_parameter(self.root, target) else None
        x = others[0]
        if weight is None or tuple(weight.shape) != (shape(x)[1], 1, 1) or self.layout(x) != IMAGE:
            return None
        layer = Layer("layer_scale", [], {}, [x])
        layer.path = target
        return [layer]


def _is_parameter(root, target: str) -> bool:
    try:
        root.get_parameter(target)
        return True
    except AttributeError:
        return False


def build_tree(graph: fx.Graph, ctx: Context) -> Stmt:
    """The root scope of the spec for a traced graph (every fx node mapped or refused)."""
    root = Stmt("scope", body=[], path="")
    calls = Counter(n.target for n in graph.nodes if n.op == "call_module")
    stack, closed, alias, splits, made = [root], set(), {}, set(), {}
    inputs = [n for n in graph.nodes if n.op == "placeholder"]
    if len(inputs) != 1:
        refuse("E0805", f"the forward takes {len(inputs)} inputs; a spec has one",
               help="wrap the module so that its forward takes one image")
    root.value_in = inputs[0]

    def resolved(value):
        while value in alias:
            value = alias[value]
        return value

    for node in graph.nodes:
        split = split_of(node, ctx)
        if split is not None:
            _enter(stack, closed, _stack_path(node), ctx, node)
            stack[-1].body.append(Stmt("split", split[1], inputs=[resolved(split[0])], value=node, node=node,
                                       parts=list(node.users)))
            splits.add(node)
            continue
        if node.op in ("placeholder", "get_attr", "output") or shape(node) is None or (
                node.target is operator.getitem and node.args[0] in splits):
            continue
        try:
            mapped = layer_of(node, ctx)
        except Unsupported as exc:
            refuse("E0802", f"{_place(node, ctx)}: the importer has no layer for {exc}",
                   where=user_line(node.meta.get("stack_trace")), label="this op",
                   help="write this part with the layers the importer maps (docs/import.md), or leave it out of "
                        "the module you import")
        if isinstance(mapped, Alias):
            alias[node] = mapped.value
            ctx.layouts[node] = mapped.layout
            continue
        _keep_layout(node, mapped, ctx)
        previous = None
        for i, layer in enumerate(mapped):
            path = getattr(layer, "path", None) or _module_path(node, calls, ctx)
            home = None if path else _home(node, layer, stack, made, resolved)
            scope_path, _, name = path.rpartition(".") if path else (home, "", None)
            _enter(stack, closed, scope_path, ctx, node)
            last = i == len(mapped) - 1
            value = node if last else object()
            ins = [resolved(v) for v in layer.inputs] or [previous]
            stack[-1].body.append(Stmt(layer.op, layer.args, layer.opts, ins, value, name if last else None,
                                       fixed=bool(name) and last, path=path or "", node=node))
            made[value] = stack[-1].path
            previous = value
    _output(graph, root, resolved, stack, closed, ctx)
    return root


#: layers that work on a channels-last image as on its channels at each position
PER_POSITION = {"layernorm", "position_linear", "dropout", "add", "mul", "relu", "relu6", "gelu", "silu", "sigmoid",
                "tanh", "hardswish", "hardsigmoid", "mish", "leaky_relu", "elu"}


def _keep_layout(node, mapped: list, ctx) -> None:
    """A layer on channels-last values hands on a channels-last value; only per-position layers may read one."""
    inputs = [v for layer in mapped for v in layer.inputs]
    if not any(ctx.layout(v) == CHANNELS_LAST for v in inputs):
        return
    odd = next((layer.op for layer in mapped if layer.op not in PER_POSITION), None)
    if odd is not None:
        refuse("E0802", f"{_place(node, ctx)}: the importer has no layer for `{odd}` on a channels-last image",
               where=user_line(node.meta.get("stack_trace")), label="this op",
               help="between a permute to channels-last and back, the language has per-position layers only "
                    "(layernorm, position_linear, activations, dropout, add, mul)")
    ctx.layouts[node] = CHANNELS_LAST


def _home(node, layer, stack: list, made: dict, resolved) -> str:
    """The scope a functional op goes in: its module's; but the concatenation of the scope still open's
    input and its last value, x -> cat(x, f(x)), closes that scope instead: DenseNet's layers then hand on
    their input with their new channels and are alike (see concats.py)."""
    natural = _stack_path(node)
    scope = stack[-1]
    if layer.op != "concat" or not scope.path or natural == scope.path or natural.startswith(scope.path + "."):
        return natural
    first = scope
    while first.is_scope and first.body:
        first = first.body[0]
    ins = [resolved(v) for v in layer.inputs]
    last = scope.body[-1] if scope.body else None
    if first is scope or last is None or last.is_scope or ins != [first.inputs[0], last.value]:
        return natural
    if any(u is not node for u in last.value.users if u not in made):
        return natural
    return scope.path


def split_of(node, ctx):
    """`x.chunk(n, dim=1)` or `torch.split(x, [a, b], dim=1)` of an image: (x, the split's arguments), else None."""
    import torch

    if not ((node.op == "call_method" and node.target in ("chunk", "split"))
            or (node.op == "call_function" and node.target in (torch.chunk, torch.split))):
        return None
    x = node.args[0]
    how = node.args[1] if len(node.args) > 1 else node.kwargs.get("chunks", node.kwargs.get("split_size_or_sections"))
    dim = node.args[2] if len(node.args) > 2 else node.kwargs.get("dim", 0)
    channels = (ctx.shape(x) or (0, 0))[1]
    if ctx.layout(x) != IMAGE or dim not in (1, -3) or not all(u.target is operator.getitem for u in node.users):
        return None
    if node.target in ("chunk", torch.chunk) and isinstance(how, int) and channels % how == 0:
        return x, [how]
    if isinstance(how, (list, tuple)) and sum(how) == channels:
        return x, list(how)
    if isinstance(how, int) and channels % how == 0:  # split(x, size): parts of `size` channels
        return x, [channels // how]
    return None


def _place(node, ctx) -> str:
    path = node.target if node.op == "call_module" else _stack_path(node)
    owner = path if node.op != "call_module" else path.rpartition(".")[0]
    where = f"`{path}`" if path else "the forward"
    return f"{where} (in {type(ctx.module(owner)).__name__}.forward)"


def _module_path(node, calls: Counter, ctx) -> str | None:
    """The module path a layer is named by: a module with state, or one called once."""
    if node.op != "call_module":
        return None
    module = ctx.module(node.target)
    has_state = any(True for _ in module.parameters()) or any(True for _ in module.buffers())
    if has_state and calls[node.target] > 1:
        refuse("E0805", f"`{node.target}` ({type(module).__name__}) is called {calls[node.target]} times: its "
                        "weights are shared", where=user_line(node.meta.get("stack_trace")), label="called again here",
               help="a spec gives each layer weights of its own; shared weights cannot be imported yet")
    return node.target if has_state or calls[node.target] == 1 else None


def _stack_path(node) -> str:
    """The innermost module whose forward made a functional op (a leaf module's: its parent)."""
    if node.op == "call_module":
        return node.target.rpartition(".")[0]
    stack = node.meta.get("nn_module_stack") or {}
    paths = [p for p in stack if p]
    return paths[-1] if paths else ""


def _enter(stack: list, closed: set, scope_path: str, ctx, node) -> None:
    """Close the scopes not on `scope_path` and open the ones it adds."""
    wanted = scope_path.split(".") if scope_path else []
    chain = [".".join(wanted[:i + 1]) for i in range(len(wanted))]
    while len(stack) > 1 and stack[-1].path not in chain:
        closed.add(stack.pop().path)
    for path in chain[len(stack) - 1:]:
        if path in closed:
            refuse("E0805", f"`{path}` ({type(ctx.module(path)).__name__}) runs in two separate places of the forward",
                   where=user_line(node.meta.get("stack_trace")), label="entered again here",
                   help="a spec writes each module's layers together in one scope; a module whose forward is "
                        "interleaved with its parent's ops, or that is called twice, cannot be imported yet")
        scope = Stmt("scope", body=[], path=path, name=path.rpartition(".")[2], fixed=True,
                     cls=type(ctx.module(path)), node=node)
        stack[-1].body.append(scope)
        stack.append(scope)


def _output(graph, root: Stmt, resolved, stack, closed, ctx) -> None:
    out = next(n for n in graph.nodes if n.op == "output").args[0]
    if not isinstance(out, fx.Node) or shape(out) is None:
        refuse("E0805", "the forward returns several values (or no tensor); an imported spec returns one tensor",
               help="import a module whose forward returns one tensor (set aux_logits=False on GoogLeNet and "
                    "Inception)")
    value = resolved(out)
    if ctx.layout(value) == CHANNELS_LAST or ctx.layout(out) == CHANNELS_LAST:
        refuse("E0802", "the forward returns a channels-last image; the language's images are channels-first")
    while len(stack) > 1:
        closed.add(stack.pop().path)
    if not root.body or scope_value(root.body[-1]) is not value:
        root.body.append(Stmt("identity", inputs=[value], value=value))


def scope_value(stmt: Stmt):
    """The value a statement hands on: a scope's is its last statement's."""
    while stmt.is_scope:
        stmt = stmt.body[-1]
    return stmt.value


def finish_scopes(stmt: Stmt) -> None:
    """Each scope's value and inputs (the values from outside its body that it reads, in order)."""
    if not stmt.is_scope:
        return
    defined, ins = set(), []
    for child in stmt.body:
        finish_scopes(child)
        for v in child.inputs:
            if v not in defined and v not in ins:
                ins.append(v)
        defined |= defined_values(child)
    stmt.value = scope_value(stmt) if stmt.body else stmt.value
    if stmt.path:
        stmt.inputs = ins


def defined_values(stmt: Stmt) -> set:
    """Every value a statement (with its body) defines."""
    if not stmt.is_scope:
        return {stmt.value, *stmt.parts}
    found = set()
    for child in stmt.body:
        found |= defined_values(child)
    return found
