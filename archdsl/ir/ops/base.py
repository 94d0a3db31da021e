"""What every IR op is: a pydantic node class that registers itself and carries all its IR-side facts.

An op's class says, in one place, how many inputs it takes (`ARITY`), its output type
(`infer`), the state_dict entries it owns (`state`), whether its output is a view of its input
(`VIEW`), its cost (`macs`, `other_flops`) and the family a diagram colours it as (`FAMILY`).
The back ends dispatch on these; `archdsl.ir.nodes` gathers the registered classes into the
closed union the IR is made of. A class that leaves a rule undefined inherits a method that
raises MissingRule, and the completeness tests list every such gap.

The op modules (and archdsl.ir.origin) do without `from __future__ import annotations`: pydantic
then reads each field's annotation as an object instead of evaluating it from a string, which
took a quarter of building the node classes when archdsl.ir.nodes is imported.
"""


import math
import operator
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, ClassVar, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, GetPydanticSchema
from pydantic_core import core_schema

from archdsl.ir.origin import Frame
from archdsl.diagnostics import Span, set_fields

Pair = tuple[int, int]
#: padding per side where it differs: (top, bottom, left, right)
Sides = tuple[int, int, int, int]

#: op name -> node class, in the order the classes were defined
REGISTRY: dict[str, type["NodeBase"]] = {}


class MissingRule(NotImplementedError):
    """An op class lacks one of the rules every op must give."""


#: the axis names of the two kinds every CNN spec uses: an image (channels first) and a flat vector
IMAGE_AXES = ("c", "h", "w")
VECTOR_AXES = ("c",)


@dataclass(frozen=True, init=False)
class TensorType:
    """The type of one sample's activation: its sizes along named axes, the batch axis left out.

    An image is `c h w` (channels first, as torch's convs take it), a flat vector `c`, a token
    sequence `n c`; any other axes a rearrange makes are named by its pattern. The feature axis
    of everything but an image is the last one (where torch's Linear and LayerNorm act).
    `batched` is false for a value that is the same for every sample (a learned tensor, a fixed
    table): it broadcasts over the batch. `TensorType(channels=, height=, width=)` builds an
    image, `TensorType(channels=)` a vector.

    A frozen dataclass rather than a pydantic model: every type rule reads its sizes, and a
    pydantic model's class has a `__getattr__` hook, which keeps Python 3.11 from specialising an
    attribute read (four times as long; 2% of checking every bundled spec). It checks its fields
    itself: sizes are whole numbers (2.0 is taken as 2), each axis named once, `batched` a bool.
    """

    shape: tuple[int, ...]
    axes: tuple[str, ...]
    batched: bool = True

    def __init__(self, shape=None, axes=None, batched: bool = True, *, channels=None, height=None, width=None):
        if channels is not None:
            if shape is not None or axes is not None:
                raise TypeError("TensorType takes shape and axes, or channels (height, width), not both")
            shape, axes = ((channels,), VECTOR_AXES) if height is None else ((channels, height, width), IMAGE_AXES)
        elif shape is None or axes is None:
            raise TypeError("TensorType needs shape and axes, or channels")
        shape, axes = tuple(map(_whole, shape)), tuple(axes)
        if len(shape) != len(axes) or len(set(axes)) != len(axes) or not all(type(a) is str for a in axes):
            raise ValueError(f"axes {axes} do not name the sizes {shape} once each")
        if type(batched) is not bool:
            raise TypeError(f"batched is true or false, not {batched!r}")
        set_fields(self, "__dict__", {"shape": shape, "axes": axes, "batched": batched})

    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):
        return core_schema.is_instance_schema(cls)  # a node's type is made by the type rules

    @property
    def is_image(self) -> bool:
        return self.axes == IMAGE_AXES

    @property
    def is_flat(self) -> bool:
        """A vector: one axis."""
        return len(self.shape) == 1

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def channels(self) -> int:
        """An image's channels, or the features (last axis) of anything else."""
        return self.shape[0] if self.axes == IMAGE_AXES else self.shape[-1]

    @property
    def height(self) -> int | None:
        return self.shape[1] if self.axes == IMAGE_AXES else None

    @property
    def width(self) -> int | None:
        return self.shape[2] if self.axes == IMAGE_AXES else None

    @property
    def spatial(self) -> tuple[int, int] | None:
        """(height, width) of a map, channels first or last (axes named h and w); else None."""
        if "h" in self.axes and "w" in self.axes:
            return self.size("h"), self.size("w")
        return None

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def size(self, axis: str) -> int:
        return self.shape[self.axes.index(axis)]

    def with_shape(self, shape, axes=None) -> "TensorType":
        """This type with other sizes (and axis names), batched as it is."""
        return tensor_type(tuple(shape), tuple(axes if axes is not None else self.axes), self.batched)

    def with_channels(self, channels: int) -> "TensorType":
        """This type with `channels` on its feature axis."""
        shape = list(self.shape)
        shape[0 if self.is_image else -1] = channels
        return self.with_shape(shape)

    @property
    def sizes_text(self) -> str:
        """`197x768`: the sizes alone."""
        return "x".join(map(str, self.shape))

    def __str__(self) -> str:
        plain = self.is_image or (self.is_flat and self.axes == VECTOR_AXES)
        names = " ".join(self.axes) + ("" if self.batched else ", no batch")
        return self.sizes_text if plain and self.batched else f"{self.sizes_text} ({names})"


def _whole(size) -> int:
    """A size of a type: a whole number (a float with no fraction, as 2.0, is taken as 2; not a bool)."""
    if type(size) is int:
        return size
    if isinstance(size, float) and size.is_integer():
        return int(size)
    if not isinstance(size, (bool, float)) and hasattr(type(size), "__index__"):
        return operator.index(size)  # an int subclass, a numpy integer
    raise TypeError(f"a size is a whole number, not {size!r}")


#: how many distinct types the constructors below keep (a network has tens of them)
KEPT_TYPES = 4096


@lru_cache(maxsize=KEPT_TYPES, typed=True)
def image_type(channels: int, height: int, width: int) -> TensorType:
    """`TensorType(channels=, height=, width=)`, one shared value for each size: types are
    immutable, a network has few distinct ones, and the type rules make one per node."""
    return TensorType(channels=channels, height=height, width=width)


@lru_cache(maxsize=KEPT_TYPES, typed=True)
def tensor_type(shape: tuple[int, ...], axes: tuple[str, ...], batched: bool = True) -> TensorType:
    """`TensorType(shape=, axes=, batched=)`, one shared value for each (see image_type)."""
    return TensorType(shape=shape, axes=axes, batched=batched)


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


class Entry(NamedTuple):
    """One state_dict entry an op owns: `suffix` after the node's path ('' for the path itself).
    A named tuple, not a dataclass: every node's entries are made as it is added (the budget
    counts its parameters), and a tuple is made in a fraction of the time."""

    suffix: str
    shape: tuple[int, ...]
    trainable: bool = True


#: a node's span, validated as a Span (the parser made it); pydantic would otherwise build a
#: field-by-field schema of the dataclass (and of its Source) for every node class
SourceSpan = Annotated[Span, GetPydanticSchema(lambda source, handler: core_schema.is_instance_schema(Span))]


class NodeBase(BaseModel):
    """The fields every node has, and the rules every op class defines."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, extra="forbid", defer_build=True)
    id: int
    inputs: tuple[int, ...] = ()
    path: str
    span: SourceSpan | None = None
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

    def moved(self, **changes) -> "NodeBase":
        """A copy of the node with `changes` made to its fields: what `model_copy(update=changes)`
        makes (nothing validated), without its generic steps, for nodes made again elsewhere."""
        cls = type(self)
        copy = cls.__new__(cls)
        fields = self.__dict__.copy()
        fields.update(changes)
        object.__setattr__(copy, "__dict__", fields)
        object.__setattr__(copy, "__pydantic_extra__", None)  # extra="forbid": never any
        object.__setattr__(copy, "__pydantic_fields_set__", self.__pydantic_fields_set__ | changes.keys())
        object.__setattr__(copy, "__pydantic_private__", None)  # nodes have no private attributes
        return copy

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


def counts_macs(node: NodeBase) -> bool:
    """Whether `node`'s op has a MAC rule of its own, rather than NoMacs's zero."""
    return _has_mac_rule(type(node))


@lru_cache(maxsize=None)
def _has_mac_rule(cls: type) -> bool:
    """counts_macs, worked out once per class: reading a pydantic model class's attribute goes
    through its metaclass's hook."""
    return cls.macs is not NoMacs.macs


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
    """E0305 where `node` needs an image (c h w) but `t` is a flat vector or has other axes."""
    if t.is_flat:
        return [Problem("E0305", f"{node.op} needs an image (CxHxW), but its input is a flat vector of {t}",
                        f"input is {t}", "move this layer before `flatten`")]
    if not t.is_image:
        return [Problem("E0305", f"{node.op} needs an image (CxHxW), but its input is {t}", f"input is {t}",
                        f'make an image of it first, e.g. `rearrange "{" ".join(t.axes)} -> ..."` with the '
                        "channels first")]
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


def broadcast(a: TensorType, b: TensorType) -> TensorType | None:
    """numpy's rule, axes aligned from the last: each pair equal or one of them 1. The names
    and the batch follow the input with more axes (the first where they have as many)."""
    longer, shorter = (a, b) if a.rank >= b.rank else (b, a)
    shape = list(longer.shape)
    for i in range(1, shorter.rank + 1):
        x, y = longer.shape[-i], shorter.shape[-i]
        if x != y and 1 not in (x, y):
            return None
        shape[-i] = max(x, y)
    return TensorType(shape=tuple(shape), axes=longer.axes, batched=a.batched or b.batched)


def broadcast_all(node, inputs: list[TensorType]) -> Result:
    out = inputs[0]
    for i, t in enumerate(inputs[1:], start=1):
        joined = broadcast(out, t)
        if joined is None:
            return None, [Problem("E0342", f"{node.op}: {out} and {t} do not broadcast",
                                  f"{node.op}s {out} and {t}",
                                  "aligned from the last axis, each pair of sizes must be equal or one of them 1",
                                  blame_input=i)]
        out = joined
    return out, []
