"""Ops that move data without arithmetic: endpoints, views, padding-free reshapes, shuffles."""


from typing import Literal

from archdsl.ir.ops.base import Free, NodeBase, Problem, Result, SameType, TensorType, groups_problem, need_spatial
from archdsl.ir.ops.merge import MANY


class Input(Free, NodeBase):
    op: Literal["input"] = "input"
    ARITY = (0, 0)
    VIEW = True

    def infer(self, inputs) -> Result:
        return self.type, []


class Output(Free, SameType, NodeBase):
    """What the network returns: its inputs, in order. `names` is None for the one unnamed output
    (the last statement's value); otherwise one name each (an `output from` list, or the modules a
    features_only graph returns), which the ONNX export and the diagrams use. Its own type is
    its first input's (see Graph.output_types for all of them)."""

    op: Literal["output"] = "output"
    names: tuple[str, ...] | None = None
    ARITY = (1, MANY)
    VIEW = True


class Identity(Free, SameType, NodeBase):
    op: Literal["identity"] = "identity"
    VIEW = True
    FAMILY = "reshape"


class Flatten(Free, NodeBase):
    op: Literal["flatten"] = "flatten"
    VIEW = True
    FAMILY = "reshape"

    def infer(self, inputs) -> Result:
        return TensorType(channels=inputs[0].numel), []


class ChannelSlice(Free, NodeBase):
    """Channels start .. start+size of the input, as a view."""

    op: Literal["slice"] = "slice"
    start: int
    size: int
    VIEW = True
    FAMILY = "reshape"

    def infer(self, inputs) -> Result:
        (t,) = inputs
        if self.start < 0 or self.size < 1 or self.start + self.size > t.channels:
            return None, [Problem("E0309", f"channels {self.start}..{self.start + self.size} are outside the "
                                  f"input's {t.channels}", "bad split",
                                  "splits must cover the input's channels exactly")]
        return t.with_channels(self.size), []


class Shuffle(Free, NodeBase):
    """Channel shuffle (ShuffleNet's): the channels as `groups` x C/groups, transposed."""

    op: Literal["shuffle"] = "shuffle"
    groups: int
    FAMILY = "reshape"

    def infer(self, inputs) -> Result:
        (t,) = inputs
        problems = need_spatial(self, t)
        if problems:
            return None, problems
        if self.groups < 1 or t.channels % self.groups:
            return None, [groups_problem(self, self.groups, t.channels)]
        return t, []
