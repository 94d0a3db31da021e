"""Adding typed nodes to the IR graph, reporting type problems at their source spans.

Both layer statements and block expansions create nodes only through an
:class:`Emitter`, so every node is typed and checked in exactly one place.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from archdsl.diagnostics import Diagnostic, Label, Span, error
from archdsl.ir import nodes as N
from archdsl.ir.graph import Graph
from archdsl.ir.origin import Frame
from archdsl.ir.shapes import Problem, infer, nearest_divisors
from archdsl.limits import Limits
from archdsl.semantics.budget import Budget


class Emitter:
    def __init__(self, graph: Graph, diagnostics: list[Diagnostic], budget: Budget | None = None):
        self.graph = graph
        self.diagnostics = diagnostics
        self.budget = budget if budget is not None else Budget(Limits())
        self._state_paths: dict[str, Span | None] = {}
        #: the rows, blocks and scopes being built, outermost first: each node records them
        self.frames: list[Frame] = []
        #: the application of a shared instance being built, if any (see `applications`)
        self.sharing: Sharing | None = None

    def frame(self, role: str, path: str, kind: str, application: int | None = None,
              shared_by: int | None = None) -> "_Framed":
        """Nodes emitted inside record that a `role` construct of `kind` at `path` made them (the
        `application`-th of the `shared_by` applications of a shared instance, where it is one)."""
        return _Framed(self.frames, Frame(role=role, path=path, kind=kind, application=application,
                                          shared_by=shared_by))

    @contextmanager
    def applications(self):
        """One block instance applied to several values: inside, each `next_application()` starts one
        application. The stateful nodes of the first own their state; those of each later one use the
        state of the first's node in the same place (`shares`), which must be the same layer with
        state of the same shapes. Yields the Sharing, whose `mismatch` says where one differed."""
        outer, self.sharing = self.sharing, Sharing()
        try:
            yield self.sharing
        finally:
            self.sharing = outer

    def unit(self, path: str):
        """The frame of one block of the stage row being built (of the row's block type)."""
        row = self.frames[-1] if self.frames and self.frames[-1].role == "row" else None
        return self.frame("block", path, row.kind if row else "block")

    def emit(self, cls: type[N.NodeBase], inputs: list[int] | tuple[int, ...], path: str,
             span: Span | None, **attrs) -> int:
        """Create a node of type `cls`, infer its type, report problems, count it against the
        budget (which may stop elaboration with OverBudget); returns its id."""
        graph, node_id, inputs = self.graph, len(self.graph), tuple(inputs)
        # the class's pydantic validator itself (what `cls(...)` runs, less the Python call around it)
        node = cls.__pydantic_validator__.validate_python(
            {"id": node_id, "inputs": inputs, "path": path, "span": span, "origin": tuple(self.frames), **attrs})
        stateful = node.has_state
        if stateful and self.sharing is not None and self.sharing.later:
            node = node.model_copy(update={"shares": self.sharing.owner(node)})
        elif stateful:
            self.claim_path(path, span)
        out_type, problems = infer(node, [graph[i].type for i in inputs])
        for problem in problems:
            self.diagnostics.append(self._diagnostic(problem, node))
        if out_type is not None:
            _set_type(node, out_type)
        if stateful and self.sharing is not None:
            self.sharing.record(node, graph)
        graph.add(node)
        if out_type is not None and not problems:
            graph.inferred.add(node_id)
        self.budget.add(node, graph)
        return node_id

    def repeats(self, row) -> Iterator[int]:
        """The block indices 0 .. row.repeat-1 of a stage row; the budget projects the blocks
        still to come after each one from the second on, and stops a row that cannot fit."""
        return self.budget.repeats(row.repeat, row.span, row.name)

    def claim_path(self, path: str, span: Span | None) -> None:
        if path in self._state_paths:
            first = self._state_paths[path]
            notes = (Label(first, "first defined here"),) if first else ()
            self.diagnostics.append(error("E0202", f"`{path}` is defined twice", span, "defined again here",
                                          "give each layer its own name", notes))
        self._state_paths[path] = span

    def _diagnostic(self, problem: Problem, node: N.NodeBase) -> Diagnostic:
        notes = ()
        if problem.blame_input is not None:
            producer = self.graph[node.inputs[problem.blame_input]]
            if producer.span is not None and producer.span != node.span:
                notes = (Label(producer.span, f"`{shown_name(producer)}` gives {producer.type}"),)
        label = f"{shown_name(node)}: {problem.label}" if node.path else problem.label
        help = problem.help
        if problem.code in ("E0302", "E0307") and problem.blame_input is not None:
            help = f"{help}; {self.size_trail(node.inputs[0], node.inputs[problem.blame_input])}".rstrip("; ")
        return error(problem.code, problem.message, node.span, label, help, notes)

    def size_trail(self, first: int, other: int) -> str:
        """How two values that should meet came to differ in size: the sizes along the way from the
        value both come from (`25x25 at down3 -> 12x12 at pool3 -> ... -> 24x24 at up3.up`)."""
        trails = [self._trail(first), self._trail(other)]
        shared = set(trails[0]) & set(trails[1])
        if not shared:
            return ""
        start = max(shared)
        steps = []
        for trail in trails:
            path = [n for n in trail if n >= start]
            changes = [path[0]] + [b for a, b in zip(path, path[1:]) if _hw(self.graph[a].type) != _hw(self.graph[b].type)]
            steps.append(" -> ".join(f"{_hw(self.graph[n].type)} at `{shown_name(self.graph[n])}`" for n in changes))
        sides = [s for s in steps if "->" in s]
        return ("the sizes on the way: " + "; and ".join(sides)) if sides else ""

    def _trail(self, node_id: int) -> list[int]:
        """`node_id` and the values before it, following each node's first input back to the input."""
        trail = [node_id]
        while self.graph[trail[-1]].inputs:
            trail.append(self.graph[trail[-1]].inputs[0])
        return trail[::-1]

    def type_of(self, node_id: int):
        return self.graph[node_id].type

    # --- shorthands used by block expansions -------------------------------

    def same_padding(self, x: int, span: Span | None, kernel, stride, dilation=(1, 1)) -> tuple:
        """TensorFlow's `same` for a window over `x`: the output is ceil(size / stride), and where
        the padding cannot be split evenly the extra row or column goes at the bottom or right.
        (height, width) where both sides agree, else (top, bottom, left, right). With a stride
        the padding depends on the input size, which the graph then records (`size_fixed_by`)."""
        t = self.type_of(x)
        if t is None or t.is_flat:
            return (0, 0)
        if max(_pair(stride)) > 1:
            self.fix_size(span, "pad=same with a stride is worked out for the declared size")
        (top, bottom), (left, right) = (_same_sides(size, k, s, d) for size, k, s, d in
                                        zip((t.height, t.width), _pair(kernel), _pair(stride), _pair(dilation)))
        return (top, left) if (top, left) == (bottom, right) else (top, bottom, left, right)

    def fix_size(self, span: Span | None, why: str) -> None:
        """Record (the first) construct whose sizes hold only at the declared input size."""
        if self.graph.size_fixed_by is None:
            self.graph.size_fixed_by, self.graph.size_fixed_why = span, why

    def pad_unevenly(self, x: int, path: str, span, padding: tuple) -> tuple[int, tuple]:
        """For a conv: an uneven (top, bottom, left, right) padding becomes a zero padding node
        `<path>_pad` before it; returns the conv's input and its own (even) padding."""
        if len(padding) != 4:
            return x, padding
        return self.emit(N.ZeroPad, [x], path + "_pad", span, padding=padding), (0, 0)

    def conv(self, x: int, path: str, span, out: int, kernel, stride=1, pad=None, groups=1, bias=False,
             dilation=1) -> int:
        """A conv; `pad` None pads dilation x (kernel // 2) (PyTorch's blocks, which keep the size),
        "same" is TensorFlow's rule."""
        kernel, dilation = _pair(kernel), _pair(dilation)
        if pad is None:
            pad = tuple(d * (k // 2) for k, d in zip(kernel, dilation))
        elif pad == "same":
            pad = self.same_padding(x, span, kernel, stride, dilation)
        x, pad = self.pad_unevenly(x, path, span, _pair(pad))
        return self.emit(N.Conv, [x], path, span, out_channels=out, kernel=kernel, stride=_pair(stride),
                         padding=pad, groups=groups, bias=bias, dilation=dilation)

    def bn(self, x: int, path: str, span, eps: float = 1e-5, momentum: float = 0.1) -> int:
        return self.emit(N.BatchNorm, [x], path, span, eps=eps, momentum=momentum)

    def relu(self, x: int, path: str, span) -> int:
        return self.emit(N.Relu, [x], path, span)

    def add(self, inputs: list[int], path: str, span) -> int:
        return self.emit(N.Add, inputs, path, span)

    def concat(self, inputs: list[int], path: str, span) -> int:
        return self.emit(N.Concat, inputs, path, span)

    def split(self, x: int, path: str, span, sizes: int | list[int]) -> list[int]:
        """`x`'s channels in consecutive parts, as one slice node (a view) each, at `path.0`,
        `path.1`, ...: `sizes` a number of equal parts, or the parts' channel counts. Where the
        parts do not cover the channels exactly, an E0309 diagnostic and no nodes ([])."""
        t = self.type_of(x)
        if t is None:
            return []
        parts = _split_sizes(t.channels, sizes)
        if isinstance(parts, str):
            self.diagnostics.append(error("E0309", parts, span, f"splits {t.channels} channels",
                                          _split_help(t.channels, sizes)))
            return []
        starts = [sum(parts[:i]) for i in range(len(parts))]
        return [self.emit(N.ChannelSlice, [x], join(path, str(i)), span, start=start, size=size)
                for i, (start, size) in enumerate(zip(starts, parts))]


class _Framed:
    """`with emitter.frame(...)`: the frame is on the emitter's stack inside (a class, not a
    generator: every block instance enters one)."""

    __slots__ = ("frames", "frame")

    def __init__(self, frames: list[Frame], frame: Frame):
        self.frames, self.frame = frames, frame

    def __enter__(self) -> None:
        self.frames.append(self.frame)

    def __exit__(self, *exc) -> None:
        self.frames.pop()


class Sharing:
    """The applications of one shared block instance: the stateful nodes of the first, in order, and
    where a later application stands in that list."""

    def __init__(self):
        self.owners: list[N.NodeBase] = []
        self.owner_types: list = []
        self.index = -1
        self.cursor = 0
        #: the first difference found in a later application: (application, its node or None, the
        #: first application's node or None), one missing where an application built fewer layers
        self.mismatch: tuple | None = None

    @property
    def later(self) -> bool:
        return self.index > 0

    def next_application(self) -> int:
        """Start the next application, after checking that the one before built every owner's layer."""
        self.finish()
        self.index += 1
        self.cursor = 0
        return self.index

    def finish(self) -> None:
        if self.later and self.cursor < len(self.owners) and self.mismatch is None:
            self.mismatch = (self.index, None, self.owners[self.cursor])

    def owner(self, node: N.NodeBase) -> int | None:
        """The id of the first application's node whose state `node` uses."""
        at, self.cursor = self.cursor, self.cursor + 1
        return self.owners[at].id if at < len(self.owners) else None

    def record(self, node: N.NodeBase, graph: Graph) -> None:
        """Keep a first application's stateful node; compare a later one's with its owner."""
        in_type = graph[node.inputs[0]].type if node.inputs else None
        if not self.later:
            self.owners.append(node)
            self.owner_types.append(in_type)
            return
        at = self.cursor - 1
        owner = self.owners[at] if at < len(self.owners) else None
        same = owner is not None and (owner.op, owner.path, owner.attrs()) == (node.op, node.path, node.attrs()) \
            and (in_type is None or self.owner_types[at] is None  # unknown after an error reported already
                 or owner.state(self.owner_types[at]) == node.state(in_type))
        if not same and self.mismatch is None:
            self.mismatch = (self.index, node, owner)


def _set_type(node: N.NodeBase, out_type) -> None:
    """Fill in the type of a node just made by `emit`, before anything else sees it: in place, as
    pydantic's `model_copy(update=...)` fills in the copy it makes (copying every node cost a
    tenth of a check's time)."""
    node.__dict__["type"] = out_type
    node.__pydantic_fields_set__.add("type")


def _split_sizes(channels: int, sizes: int | list[int]) -> list[int] | str:
    """The channel count of each part, or what is wrong with `sizes`."""
    if isinstance(sizes, int):
        if sizes < 1 or channels % sizes:
            return f"{channels} channels do not split into {sizes} equal parts"
        return [channels // sizes] * sizes
    if not sizes or min(sizes) < 1:
        return "each part of a split needs at least 1 channel"
    if sum(sizes) != channels:
        return f"the parts ({' + '.join(map(str, sizes))} = {sum(sizes)}) do not cover the input's {channels} channels"
    return list(sizes)


def _split_help(channels: int, sizes: int | list[int]) -> str:
    if isinstance(sizes, int):
        return f"{channels} is not divisible by {sizes}; part counts that divide it: " + \
            nearest_divisors(channels, max(sizes, 1))
    return "the parts' channels must add up to the input's exactly"


def _hw(t) -> str:
    return "?" if t is None else ("flat" if t.is_flat else f"{t.height}x{t.width}")


def shown_name(node: N.NodeBase) -> str:
    """How a diagnostic names a node: its module path, less the positions that stand in for the
    names of unnamed top-level statements (`4.conv3` -> `conv3`); an unnamed layer by its op."""
    parts = node.path.split(".")
    while parts and parts[0].isdigit():
        parts.pop(0)
    return ".".join(parts) or node.op


def _pair(value) -> tuple:
    return (value, value) if isinstance(value, int) else tuple(value)


def _same_sides(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's `same` along one axis: (before, after), the extra one after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def join(prefix: str, name: str) -> str:
    """The module path of `name` inside `prefix`."""
    return f"{prefix}.{name}" if prefix else name
