"""Lowering the IR to a torch.fx GraphModule: submodules at the IR's module paths
(so state_dict keys are the reference implementations'), and a forward that is
generated straight-line Python, not an interpreter loop.

Every stage, block and scope that can stand as a unit (archdsl.ir.regions) becomes a
GraphModule of its own at its path, with a generated forward, called from its parent's
forward: forward hooks on `model.layer1` or `model.features.denseblock2` fire as on the
reference implementations, `model.layer4(x)` runs that stage alone, and the stage's input
lives as long as the reference keeps it."""

from __future__ import annotations

import torch
from torch import fx, nn

from archdsl.ir.graph import Graph
from archdsl.ir.nodes import NodeBase
from archdsl.ir.regions import Region, applications, enclosing, regions
from archdsl.backends.torch.codegen import direct_lookups
from archdsl.backends.torch.inplace import make_in_place
from archdsl.backends.torch.layout import keep_channels_last
from archdsl.backends.torch.ops import LOWERINGS


class LoweringError(Exception):
    """A node could not be lowered; names the node and its place in the spec."""


class _Context:
    """One forward being generated: the root's, or a unit's (`prefix` is the unit's path and a dot)."""

    def __init__(self, graph: Graph, root: nn.Module, unit: Region | None = None):
        self.ir = graph
        self.root = root
        self.unit = unit
        self.prefix = unit.path + "." if unit else ""
        self.graph = fx.Graph()
        self.values = {}
        if unit is not None:
            for i, name in zip(unit.inputs, _argument_names([graph[i] for i in unit.inputs])):
                self.values[i] = self.graph.placeholder(name)

    def in_type(self, node: NodeBase):
        return self.ir[node.inputs[0]].type

    def call_module(self, path: str, module: nn.Module, xs, kwargs: dict | None = None):
        if not _has_module(self.root, path):
            _install(self.root, path, module)
        return self.graph.call_module(self._local(path), tuple(xs), kwargs or {})

    def get_parameter(self, path: str, parameter: nn.Parameter):
        """An fx value reading the parameter at dotted `path` (its state_dict key), installed once."""
        *parents, leaf = path.split(".")
        owner = _owner(self.root, parents)
        if leaf not in owner._parameters:
            owner.register_parameter(leaf, parameter)
        return self.graph.get_attr(self._local(path))

    def get_buffer(self, path: str, tensor):
        """An fx value reading the buffer at dotted `path` (its state_dict key), installed once."""
        *parents, leaf = path.split(".")
        owner = _owner(self.root, parents)
        if leaf not in owner._buffers:
            owner.register_buffer(leaf, tensor)
        return self.graph.get_attr(self._local(path))

    def _local(self, path: str) -> str:
        assert path.startswith(self.prefix), (path, self.prefix)
        return path[len(self.prefix):]


def _argument_names(received: list[NodeBase]) -> list[str]:
    """A unit's arguments: `x` where it takes one, else each named after the value it receives."""
    if len(received) == 1:
        return ["x"]
    names = []
    for k, node in enumerate(received):
        last = node.path.rsplit(".", 1)[-1]
        name = last if last.isidentifier() and node.op != "input" else "x"
        names.append(name if name not in names else f"{name}_{k}")
    return names


def _has_module(root: nn.Module, path: str) -> bool:
    try:
        root.get_submodule(path)
        return True
    except AttributeError:
        return False


def _install(root: nn.Module, path: str, module: nn.Module) -> None:
    *parents, leaf = path.split(".")
    _owner(root, parents).add_module(leaf, module)


def _owner(root: nn.Module, parents: list[str]) -> nn.Module:
    """The module at `parents` under `root`, made (as plain modules) where missing."""
    owner = root
    for part in parents:
        if part not in owner._modules:
            owner.add_module(part, nn.Module())
        owner = owner._modules[part]
    return owner


def lower(graph: Graph, init: bool = True) -> fx.GraphModule:
    """The network as an fx.GraphModule named after it, its units as GraphModules inside it."""
    units = regions(graph)
    holders = enclosing(graph, units)
    again = applications(graph, units)
    root = nn.Module()
    open_: list[_Context] = [_Context(graph, root)]
    done: list[_Context] = []
    for node in graph.nodes():
        chain = holders[node.id]
        while len(open_) > 1 and open_[-1].unit.path not in chain:
            _close(open_, done)
        for path in chain[len(open_) - 1:]:
            _owner(root, path.split("."))  # a unit of functions only still needs its module
            open_.append(_Context(graph, root, units[path]))
        ctx = open_[-1]
        if node.id in again:  # a shared instance's later application: its unit called again
            _call_again(ctx, again[node.id], node.id)
            continue
        try:
            ctx.values[node.id] = LOWERINGS[node.op](node, [ctx.values[i] for i in node.inputs], ctx)
        except Exception as exc:  # a bug in a lowering: say where, then re-raise
            raise LoweringError(f"while lowering {node.path} ({node.op}, {node.span}): {exc}") from exc
    while len(open_) > 1:
        _close(open_, done)
    for ctx in done:  # innermost first: a unit's GraphModule holds its inner units' ones
        _install(root, ctx.unit.path, _finish(ctx, root.get_submodule(ctx.unit.path), _class_name(ctx.unit)))
    module = _finish(open_[0], root, graph.name)
    if init:
        initialize(module)
    return module


def _close(open_: list[_Context], done: list[_Context]) -> None:
    """End the innermost open unit: its forward returns its output, and its parent calls it."""
    ctx = open_.pop()
    unit, parent = ctx.unit, open_[-1]
    ctx.graph.output(ctx.values[unit.output])
    call = parent.graph.call_module(parent._local(unit.path), tuple(parent.values[i] for i in unit.inputs))
    parent.values[unit.output] = call
    done.append(ctx)


def _call_again(ctx: _Context, application: Region, node_id: int) -> None:
    """At the first node of a later application of a shared instance, call the unit its first
    application made (one module, its weights used for each value) on this application's inputs."""
    if node_id != application.nodes[0]:
        return
    args = tuple(ctx.values[i] for i in application.inputs)
    ctx.values[application.output] = ctx.graph.call_module(ctx._local(application.path), args)


def _finish(ctx: _Context, owner: nn.Module, class_name: str) -> fx.GraphModule:
    keep_channels_last(ctx.graph)
    make_in_place(ctx.graph, owner)
    direct_lookups(ctx.graph)
    return fx.GraphModule(owner, ctx.graph, class_name=class_name)


def _class_name(unit: Region) -> str:
    """`inverted_residual` -> InvertedResidual; a stage row of bottlenecks -> BottleneckStage."""
    name = "".join(part[:1].upper() + part[1:] for part in unit.kind.replace("-", "_").split("_") if part)
    name = name if name.isidentifier() else "Unit"
    return name + "Stage" if unit.role == "row" else name


@torch.no_grad()
def initialize(module: nn.Module) -> None:
    """The usual ResNet initialisation: He-normal convs, unit-scale norms."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
