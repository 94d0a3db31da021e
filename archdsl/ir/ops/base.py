"""What every IR op is: a pydantic node class that registers itself and carries all its IR-side facts.

An op's class says, in one place, how many inputs it takes (`ARITY`), its output type
(`infer`), the state_dict entries it owns (`state`), whether its output is a view of its input
(`VIEW`), its cost (`macs`, `other_flops`) and the family a diagram colours it as (`FAMILY`).
The back ends dispatch on these; `archdsl.ir.nodes` gathers the registered classes into the
closed union the IR is made of. A class that leaves a rule undefined inherits a method that
raises MissingRule, and the completeness tests list every such gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from archdsl.ir.origin import Frame
from archdsl.diagnostics import Span

Pair = tuple[int, int]
#: padding per side where it differs: (top, bottom, left, right)
Sides = tuple[int, int, int, int]

#: op name -> node class, in the order the classes were defined
REGISTRY: dict[str, type["NodeBase"]] = {}


class MissingRule(NotImplementedError):
    """An op class lacks one of the rules every op must give."""


class TensorType(BaseModel):
    """The type of one image's activation: channels x height x width, or a flat vector."""

    model_config = ConfigDict(frozen=True)
    channels: int
    height: int | None = None
    width: int | None = None

    @property
    def is_flat(self) -> bool:
        return self.height is None

    @property
    def numel(self) -> int:
        return self.channels * (self.height or 1) * (self.width or 1)

    def __str__(self) -> str:
        if self.is_flat:
            return str(self.channels)
        return f"{self.channels}x{self.height}x{self.width}"


@dataclass(frozen=True)
class Problem:
    """A type problem found by an op's rule; the emitter attaches the node's span."""

    code: str
    message: str
    label: str = ""
    help: str = ""
    #: index of the input whose producer is worth pointing at, if any
    blame_input: int | None = None


Result = tuple[TensorType | None, list[Problem]]


@dataclass(frozen=True)
class Entry:
    """One state_dict entry an op owns: `suffix` after the node's path ('' for the path itself)."""

    suffix: str
    shape: tuple[int, ...]
    trainable: bool = True


class NodeBase(BaseModel):
    """The fields every node has, and the rules every op class defines."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, extra="forbid")
    id: int
    inputs: tuple[int, ...] = ()
    path: str
    span: Span | None = None
    type: TensorType | None = None
    #: the rows, blocks and scopes that made this node, outermost first (see archdsl.ir.origin)
    origin: tuple[Frame, ...] = ()
    #: where a block instance is applied to several values (shared weights): the id of the node of its
    #: first application whose state this node uses (same path, op and attributes); None: its own
    shares: int | None = None

    #: ops that own a torch module with parameters or buffers at `path`
    has_state: bool = Field(default=False, exclude=True)

    #: how many inputs the op takes: (at least, at most)
    ARITY: ClassVar[tuple[int, int]] = (1, 1)
    #: the output shares its input's memory (a view), or is no tensor of its own
    VIEW: ClassVar[bool] = False
    #: the diagram family (conv, norm, activation, pool, linear, merge, reshape); None: not drawn as an op
    FAMILY: ClassVar[str | None] = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        field = cls.model_fields.get("op")
        if field is not None and isinstance(field.default, str):
            REGISTRY[field.default] = cls

    def attrs(self) -> dict:
        """The op's own attributes (everything but the common node fields)."""
        return self.model_dump(exclude={"id", "inputs", "path", "span", "type", "op", "has_state", "origin", "shares"})

    # --- the rules each op gives ---------------------------------------------

    def infer(self, inputs: list[TensorType]) -> Result:
        """The output type given the input types (all known), and the problems that prevent one."""
        raise MissingRule(f"{type(self).__name__} has no type rule")

    def state(self, in_type: TensorType) -> list[Entry]:
        """The state_dict entries this node owns, given its (first) input's type."""
        raise MissingRule(f"{type(self).__name__} says nothing of its state")

    def macs(self, inputs: list[TensorType]) -> int:
        """Multiply-accumulates of a conv-like or linear-like op (the convention torchvision publishes)."""
        raise MissingRule(f"{type(self).__name__} has no MAC count")

    def other_flops(self, inputs: list[TensorType]) -> int:
        """Floating-point operations other than MACs, for one image at inference."""
        raise MissingRule(f"{type(self).__name__} has no flop count")


RULES = ("infer", "state", "macs", "other_flops")


def missing_rules(cls: type[NodeBase]) -> list[str]:
    """The rules `cls` leaves undefined (inherits NodeBase's MissingRule for)."""
    return [rule for rule in RULES if getattr(cls, rule) is getattr(NodeBase, rule)]


class Stateless:
    """Mixin: an op that owns no state_dict entries."""

    def state(self, in_type: TensorType) -> list[Entry]:
        return []


class NoMacs:
    """Mixin: an op without multiply-accumulates (everything but conv- and linear-like ops)."""

    def macs(self, inputs: list[TensorType]) -> int:
        return 0


class Free(Stateless, NoMacs):
    """Mixin: no state, and no arithmetic (data movement, views, identity at inference)."""

    def other_flops(self, inputs: list[TensorType]) -> int:
        return 0


class SameType:
    """Mixin: the output has the first input's type."""

    def infer(self, inputs: list[TensorType]) -> Result:
        return inputs[0], []


# --- helpers the rules share ---------------------------------------------------


def need_spatial(node: NodeBase, t: TensorType) -> list[Problem]:
    """E0305 where `node` needs an image but `t` is flat."""
    if t.is_flat:
        return [Problem("E0305", f"{node.op} needs an image (CxHxW), but its input is a flat vector of {t}",
                        f"input is {t}", "move this layer before `flatten`")]
    return []


def declared(node: NodeBase, what: str, value: int | None, actual: int) -> list[Problem]:
    """E0303 where the spec declared an input width the input does not have."""
    if value is not None and value != actual:
        return [Problem("E0303", f"{node.op} declares {value} input {what}, but its input has {actual}",
                        f"input has {actual} {what}", f"write {actual}, or fix the layer before it",
                        blame_input=0)]
    return []


def hw(t: TensorType) -> str:
    """`7x7`, or `flat`."""
    return "flat" if t.is_flat else f"{t.height}x{t.width}"


def nearest_multiples(value: int, step: int) -> str:
    """`96, 128`: the multiples of `step` on either side of `value` (those above 0)."""
    below = value // step * step
    return ", ".join(str(v) for v in (below, below + step) if v > 0)


def not_divisible_help(value: int, step: int) -> str:
    """The help line for `value` not divisible by `step`, naming the nearest multiples."""
    return f"{value} is not divisible by {step}; nearest: " + nearest_multiples(value, step)


def nearest_divisors(value: int, near: int) -> str:
    """`16, 32`: the divisors of `value` on either side of `near`."""
    divisors = [d for d in range(1, value + 1) if value % d == 0]
    below = [d for d in divisors if d < near]
    above = [d for d in divisors if d > near]
    return ", ".join(str(d) for d in (below[-1:] + above[:1]))


def groups_problem(node: NodeBase, groups: int, channels: int, what: str = "groups") -> Problem:
    """E0304 for `groups` that do not divide `channels`, naming the nearest group counts that do."""
    return Problem("E0304", f"{what}={groups} does not divide the channels ({channels})",
                   f"{channels} channels in {groups} groups",
                   f"{channels} is not divisible by {groups}; group counts that divide it: "
                   + nearest_divisors(channels, groups))
