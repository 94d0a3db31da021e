"""Lowering the IR to a torch.fx GraphModule: submodules at the IR's module paths
(so state_dict keys are the reference implementations'), and a forward that is
generated straight-line Python, not an interpreter loop."""

from __future__ import annotations

import torch
from torch import fx, nn

from archdsl.ir.graph import Graph
from archdsl.ir.nodes import NodeBase
from archdsl.backends.torch.codegen import direct_lookups
from archdsl.backends.torch.inplace import make_in_place
from archdsl.backends.torch.layout import keep_channels_last
from archdsl.backends.torch.ops import LOWERINGS


class LoweringError(Exception):
    """A node could not be lowered; names the node and its place in the spec."""


class _Context:
    def __init__(self, graph: Graph):
        self.ir = graph
        self.root = nn.Module()
        self.graph = fx.Graph()

    def in_type(self, node: NodeBase):
        return self.ir[node.inputs[0]].type

    def call_module(self, path: str, module: nn.Module, xs):
        if not _has_module(self.root, path):
            _install(self.root, path, module)
        return self.graph.call_module(path, tuple(xs))

    def get_parameter(self, path: str, parameter: nn.Parameter):
        """An fx value reading the parameter at dotted `path` (its state_dict key), installed once."""
        *parents, leaf = path.split(".")
        owner = _owner(self.root, parents)
        if leaf not in owner._parameters:
            owner.register_parameter(leaf, parameter)
        return self.graph.get_attr(path)


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
    """The network as an fx.GraphModule named after it."""
    ctx = _Context(graph)
    values = {}
    for node in graph.nodes():
        try:
            values[node.id] = LOWERINGS[node.op](node, [values[i] for i in node.inputs], ctx)
        except Exception as exc:  # a bug in a lowering: say where, then re-raise
            raise LoweringError(f"while lowering {node.path} ({node.op}, {node.span}): {exc}") from exc
    keep_channels_last(ctx.graph)
    make_in_place(ctx.graph, ctx.root)
    direct_lookups(ctx.graph)
    module = fx.GraphModule(ctx.root, ctx.graph, class_name=graph.name)
    if init:
        initialize(module)
    return module


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
