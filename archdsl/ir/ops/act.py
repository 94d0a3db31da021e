"""Elementwise functions of one value: activations (one table line each), dropout, stochastic depth.

An activation is a line of ACTIVATIONS: its name, the torch function the back end calls (by its
dotted name, so this package never imports torch), the flops it counts per element, and its
options with their defaults (each option is also the torch keyword it is passed as, unless
renamed). The node class, the type rule, the costs, the diagram family, the lowering and the
surface syntax (`gelu approximate=tanh`) all follow from that line.
"""


from dataclasses import dataclass, field
from typing import Literal

from pydantic import create_model

from archdsl.ir.ops.base import Free, NodeBase, NoMacs, Result, SameType, Stateless


@dataclass(frozen=True)
class Option:
    """An activation's option: its default, the torch keyword it is passed as, the words it takes."""

    default: float | str
    keyword: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Activation:
    """One activation function, as everything else derives it."""

    name: str
    torch: str
    flops: int
    options: dict[str, Option] = field(default_factory=dict)
    #: keywords always passed (softmax's dim=1: over the channels)
    fixed: dict[str, object] = field(default_factory=dict)

    def keywords(self, node) -> dict[str, object]:
        """The keyword arguments of the torch call for `node`."""
        return {**self.fixed, **{o.keyword or name: getattr(node, name) for name, o in self.options.items()}}


_F = "torch.nn.functional."

#: every activation. Flops per element count each compare, add, multiply and elementary function
#: (exp, tanh, erf) as 1: relu6 two compares, silu a sigmoid and a multiply, hardswish a hardsigmoid
#: (add, scale, clamp) and a multiply.
ACTIVATIONS = {a.name: a for a in (
    Activation("relu", "torch.relu", 1),
    Activation("sigmoid", "torch.sigmoid", 1),
    Activation("relu6", _F + "relu6", 2),
    Activation("hardswish", _F + "hardswish", 4),
    Activation("hardsigmoid", _F + "hardsigmoid", 3),
    Activation("silu", _F + "silu", 2),
    Activation("gelu", _F + "gelu", 4, {"approximate": Option("none", choices=("none", "tanh"))}),
    Activation("leaky_relu", _F + "leaky_relu", 2, {"slope": Option(0.01, "negative_slope")}),
    Activation("tanh", "torch.tanh", 1),
    Activation("elu", _F + "elu", 3, {"alpha": Option(1.0)}),
    Activation("mish", _F + "mish", 4),
    Activation("exp", "torch.exp", 1),
)}


class ActivationNode(Stateless, NoMacs, SameType, NodeBase):
    """The base of every activation's node class."""

    FAMILY = "activation"

    @property
    def function(self) -> Activation:
        return ACTIVATIONS[self.op]

    def other_flops(self, inputs) -> int:
        return self.function.flops * self.type.numel


def _field(option: Option):
    kind = Literal[option.choices] if option.choices else float
    return kind, option.default


def _node_class(a: Activation) -> type[ActivationNode]:
    name = "".join(part.capitalize() for part in a.name.split("_"))
    fields = {key: _field(option) for key, option in a.options.items()}
    return create_model(name, __base__=ActivationNode, __module__=__name__,
                        op=(Literal[a.name], a.name), **fields)


#: activation name -> its node class
ACTIVATION_NODES = {name: _node_class(a) for name, a in ACTIVATIONS.items()}
globals().update({cls.__name__: cls for cls in ACTIVATION_NODES.values()})


class Dropout(Free, SameType, NodeBase):
    op: Literal["dropout"] = "dropout"
    p: float = 0.5
    FAMILY = "reshape"


class StochasticDepth(Free, SameType, NodeBase):
    """torchvision's stochastic depth: in training, zero a whole sample (`row`) or the whole batch
    (`batch`) with probability p and scale the rest by 1/(1-p); the identity at inference."""

    op: Literal["stochastic_depth"] = "stochastic_depth"
    p: float
    mode: Literal["row", "batch"] = "row"
    FAMILY = "reshape"


__all__ = ["ACTIVATIONS", "ACTIVATION_NODES", "Activation", "ActivationNode", "Option", "Dropout",
           "StochasticDepth", "Result"]
