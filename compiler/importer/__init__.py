"""`archdsl import` / `archdsl.from_module`: a live torch.nn.Module as an editable .arch spec.

The module is traced with torch.fx (in eval mode, and again in training mode to find what depends
on the mode), every node is mapped to a layer of the language or refused with a diagnostic, the
module hierarchy becomes scopes (so every state_dict key is the source's), repeated sibling modules
become block definitions and rows (blocks.py), and the text is written. Nothing here is imported
unless an import is asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from archdsl.backends.importer.blocks import find_blocks
from archdsl.backends.importer.builtins import use_builtins
from archdsl.backends.importer.concats import chain_concats
from archdsl.backends.importer.names import all_names, connect, place
from archdsl.backends.importer.refusal import Refusal, refuse
from archdsl.backends.importer.roundtrip import RoundTrip, round_trip
from archdsl.backends.importer.trace import propagate_shapes, trace
from archdsl.backends.importer.tree import Context, build_tree, finish_scopes
from archdsl.backends.importer.write import write_spec
from archdsl.diagnostics import ArchError, error


@dataclass(frozen=True)
class Imported:
    """A spec made from a module, and its round trip (None when not checked)."""

    text: str
    round_trip: RoundTrip | None

    @property
    def lines(self) -> int:
        return len(self.text.splitlines())


def import_module(module: torch.nn.Module, input_size=(3, 224, 224), name: str | None = None,
                  check_roundtrip: bool = True, origin: str = "") -> Imported:
    """The spec of `module`; raises ArchError with the diagnostic where it cannot be written, or
    where the written spec does not compute what the module does."""
    input_size = tuple(int(s) for s in input_size)
    name = network_name(name or type(module).__name__)
    try:
        text = _spec_text(module, input_size, name, origin or f"{type(module).__module__}.{type(module).__qualname__}")
    except Refusal as exc:
        raise ArchError([exc.diagnostic]) from None
    if not check_roundtrip:
        return Imported(text, None)
    result = round_trip(text, module, input_size)
    if not result.ok:
        raise ArchError([error("E0804", f"the written spec computes something else: {result}", None, "",
                               "this is a bug in the importer; please report it with the module")])
    return Imported(text, result)


def _spec_text(module, input_size, name: str, origin: str) -> str:
    mode = module.training
    try:
        module.train()
        train_graph, _ = trace(module)
        module.eval()
        graph, _ = trace(module)
    finally:
        module.train(mode)
    train_args = _compare_modes(graph, train_graph)
    chain_concats(graph)
    _check_state_used(module, graph)
    example = torch.randn(1, *input_size, generator=torch.Generator().manual_seed(0)).to(device_of(module))
    module.eval()
    try:
        propagate_shapes(graph, module, example)
    finally:
        module.train(mode)
    root = build_tree(graph, Context(module, train_args))
    finish_scopes(root)
    taken = all_names(root)
    place(root, taken)
    connect(root, taken)
    blocks = use_builtins(root, find_blocks(root))
    return write_spec(name, input_size, root, blocks, f"imported from {origin} by `archdsl import`")


def _compare_modes(graph, train_graph) -> dict:
    """The training-mode arguments of each node, by name; a refusal where the forward runs other
    ops in training mode than in eval mode (Python control flow on `self.training`)."""
    ours = [n for n in graph.nodes]
    theirs = [n for n in train_graph.nodes]
    for a, b in zip(ours, theirs):
        if (a.op, a.target) != (b.op, b.target):
            _mode_refusal(b)
    if len(ours) != len(theirs):
        _mode_refusal(theirs[min(len(ours), len(theirs)) - 1])
    return {b.name: dict(b.kwargs, **({"training": b.args[2]} if len(b.args) > 2 else {})) for b in theirs}


def _mode_refusal(node) -> None:
    from archdsl.backends.importer.refusal import user_line

    refuse("E0803", "the forward runs other ops in training mode than in eval mode (Python control flow on "
                    "`self.training`)", where=user_line(node.meta.get("stack_trace")), label="differs here",
           help="a spec computes the same graph in both modes (dropout and batch norm follow the mode by "
                "themselves); turn off what only training runs, e.g. aux_logits=False")


def _check_state_used(module, graph) -> None:
    """Every parameter and buffer belongs to a module the forward calls (or is read directly)."""
    used = [n.target for n in graph.nodes if n.op in ("call_module", "get_attr")]
    unused = [key for key in module.state_dict()
              if not any(key == u or key.startswith(u + ".") for u in used)]
    if unused:
        shown = ", ".join(f"`{k}`" for k in unused[:3]) + (f" and {len(unused) - 3} more" if len(unused) > 3 else "")
        refuse("E0805", f"the module holds state its forward never uses: {shown}",
               help="a spec's state_dict is what its forward computes with; drop the unused modules (an auxiliary "
                    "head: aux_logits=False) before importing")


def device_of(module: torch.nn.Module) -> torch.device:
    """Where the module's weights are (the CPU for a module without any)."""
    return next((t.device for t in [*module.parameters(), *module.buffers()]), torch.device("cpu"))


def network_name(text: str) -> str:
    """A name the language takes for `network NAME`: letters, digits and `_`, not starting with a digit."""
    name = re.sub(r"\W", "_", text) or "network"
    return f"net_{name}" if name[0].isdigit() else name
