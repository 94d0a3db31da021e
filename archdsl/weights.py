"""Checkpoint files against a spec: read their keys and shapes, compare them with the state the
IR says the network owns (archdsl.ir.state), and load them into a built module.

Reading shapes never reads the tensors: a .safetensors file's JSON header is parsed here, a
.pth/.pt file is opened with torch.load(mmap=True, weights_only=True) onto the meta device.
The usual wrappers are taken off: a {"state_dict": ...} or {"model": ...} dict (as training
scripts save them) and the `module.` (DataParallel) or `_orig_mod.` (torch.compile) prefix.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from archdsl.diagnostics import Diagnostic, error, warning
from archdsl.ir.graph import Graph
from archdsl.ir.state import node_state

SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")
WRAPPERS = ("state_dict", "model", "model_state_dict", "module")
PREFIXES = ("module.", "_orig_mod.")
#: BatchNorm fills this counter in itself when an older checkpoint lacks it
OPTIONAL = ".num_batches_tracked"
MAX_HEADER = 100 * 1024 * 1024


class WeightsError(Exception):
    """A checkpoint file that cannot be read, as the E0601 diagnostic to report."""

    def __init__(self, message: str, help: str):
        super().__init__(message)
        self.diagnostic = error("E0601", message, None, "", help)


def read_shapes(path) -> dict[str, tuple[int, ...]]:
    """Every key of the checkpoint at `path` and its tensor's shape, without reading the tensors."""
    path = _checked(Path(path))
    if path.suffix == ".safetensors":
        return _safetensors_shapes(path)
    return {key: tuple(t.shape) for key, t in _torch_state(path, lazy=True).items()}


def read_tensors(path) -> dict:
    """The checkpoint at `path` as a state_dict of CPU tensors, wrappers and prefixes taken off."""
    path = _checked(Path(path))
    if path.suffix != ".safetensors":
        return _torch_state(path, lazy=False)
    try:
        from safetensors.torch import load_file
    except ModuleNotFoundError:
        raise WeightsError("loading a .safetensors file needs the `safetensors` package, which is not installed",
                           "python3 -m pip install 'archdsl[safetensors]' (or: pip install safetensors)") from None
    return strip_prefixes(load_file(str(path)))


def _checked(path: Path) -> Path:
    if path.suffix not in SUFFIXES:
        raise WeightsError(f"`{path}` is not a checkpoint file this reads",
                           f"give a {', '.join(SUFFIXES)} file (a state_dict saved by torch.save, or safetensors)")
    if not path.is_file():
        raise WeightsError(f"no such checkpoint file: `{path}`", "check the path")
    return path


def _safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The shapes in a safetensors header: 8 bytes of little-endian length, then that much JSON."""
    try:
        with path.open("rb") as file:
            (size,) = struct.unpack("<Q", file.read(8))
            if size > MAX_HEADER:
                raise ValueError(f"a header of {size:,} bytes")
            header = json.loads(file.read(size))
        return strip_prefixes({key: tuple(int(d) for d in entry["shape"])
                               for key, entry in header.items() if key != "__metadata__"})
    except (OSError, struct.error, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WeightsError(f"`{path}` is not a readable safetensors file ({exc})",
                           "is it a whole file? safetensors.torch.save_file writes one") from None


def _torch_state(path: Path, lazy: bool) -> dict:
    """torch.load of a state_dict (weights_only: no code in the file runs); lazy: onto the meta device."""
    import torch

    options = {"map_location": "meta", "mmap": True} if lazy else {"map_location": "cpu"}
    try:
        try:
            loaded = torch.load(path, weights_only=True, **options)
        except RuntimeError as exc:  # mmap needs the zip format torch.save writes since 1.6
            if not lazy or "mmap" not in str(exc):
                raise
            loaded = torch.load(path, weights_only=True, map_location="meta")
    except Exception as exc:  # torch.load refuses a file as UnpicklingError, RuntimeError, EOFError, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"`{path}` cannot be read as a checkpoint: {first}",
                           "a checkpoint is a state_dict saved with torch.save; files that need code to "
                           "load (weights_only=False) are refused") from None
    return strip_prefixes(unwrap(loaded, path))


def unwrap(loaded, path: Path) -> dict:
    """The state_dict inside what torch.load returned: itself, or under one of WRAPPERS."""
    import torch

    state = loaded
    while isinstance(state, dict) and not _is_state(state, torch.Tensor):
        inner = next((state[key] for key in WRAPPERS if isinstance(state.get(key), dict)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, dict) or not state or not _is_state(state, torch.Tensor):
        keys = ", ".join(map(str, list(state)[:6])) if isinstance(state, dict) else type(state).__name__
        raise WeightsError(f"`{path}` holds no state_dict (found: {keys})",
                           f"save model.state_dict(); a dict wrapping it under {' or '.join(WRAPPERS)} also works")
    return state


def _is_state(mapping: dict, tensor) -> bool:
    return bool(mapping) and all(isinstance(k, str) and isinstance(v, tensor) for k, v in mapping.items())


def strip_prefixes(state: dict) -> dict:
    """`module.conv1.weight` -> `conv1.weight` where every key has the prefix."""
    for prefix in PREFIXES:
        if state and all(key.startswith(prefix) for key in state):
            state = {key[len(prefix):]: value for key, value in state.items()}
    return state


def compare(graph: Graph, shapes: dict[str, tuple[int, ...]]) -> list[Diagnostic]:
    """Every difference between the checkpoint's keys and shapes and the state the spec makes:
    E0602 missing, E0603 unexpected, E0604 another shape; W0403 for a classifier head of
    another size (the one difference build(weights=) works around)."""
    makes = {entry.key: (entry, node) for node in graph.stateful() for entry in node_state(node, graph)}
    head = head_node(graph, shapes)
    found = [_head_warning(graph, head, shapes)] if head is not None else []
    for key, (entry, node) in makes.items():
        if head is not None and node is head:
            continue
        if key not in shapes:
            if not key.endswith(OPTIONAL):
                found.append(error("E0602", f"{key}: missing from the checkpoint, {_line(node)} makes "
                                            f"{_shape(entry.shape)}", node.span, f"{node.path}: makes {key}",
                                   "is it a checkpoint of this network? `archdsl show` prints the spec"))
        elif tuple(shapes[key]) != entry.shape:
            found.append(error("E0604", f"{key}: the checkpoint has {_shape(shapes[key])}, {_line(node)} makes "
                                        f"{_shape(entry.shape)}{_detail(node)}", node.span,
                               f"{node.path}: {_shape(entry.shape)}",
                               "change the spec to the checkpoint's shape, or use a checkpoint of this spec"))
    for key in shapes:
        if key not in makes:
            near = _nearest(key, graph)
            found.append(error("E0603", f"{key}: the checkpoint has {_shape(shapes[key])}, which the spec makes "
                                        "no layer for", near.span if near else None,
                               f"nearest layer: {near.path}" if near else "",
                               "a layer the spec lacks, or named differently (`archdsl summary --depth 9` "
                               "lists the spec's names)"))
    return sorted(found, key=Diagnostic.sort_key)


def head_node(graph: Graph, shapes: dict):
    """The classifier, when the checkpoint's only differs in its number of outputs: the last
    layer with state, every entry of it present with another first dimension and the rest equal."""
    last = list(graph.stateful())[-1:] or [None]
    node = last[0]
    if node is None or node.op not in ("linear", "conv"):
        return None
    entries = node_state(node, graph)
    theirs = [tuple(shapes.get(e.key, ())) for e in entries]
    if all(t and len(t) == len(e.shape) and t[0] != e.shape[0] and t[1:] == e.shape[1:]
           for t, e in zip(theirs, entries)):
        return node
    return None


def _head_warning(graph: Graph, head, shapes: dict) -> Diagnostic:
    key = node_state(head, graph)[0].key
    ours = node_state(head, graph)[0].shape[0]
    return warning("W0403", f"{head.path}: the checkpoint's head has {shapes[key][0]} outputs, {_line(head)} "
                            f"makes {ours}; weights= loads everything else and leaves {head.path} as initialised",
                   head.span, f"{head.path}: {ours} outputs",
                   f"to load the head too, build with its size (e.g. num_classes={shapes[key][0]})")


def _line(node) -> str:
    return f"line {node.span.line}" if node.span is not None else "the spec"


def _shape(shape) -> str:
    return "x".join(map(str, shape)) if shape else "a scalar"


def _detail(node) -> str:
    return f" (groups={node.groups})" if node.op == "conv" and node.groups > 1 else ""


def _nearest(key: str, graph: Graph):
    """The layer whose path shares the most leading parts with `key`, if any shares one."""
    parts = key.split(".")

    def shared(node) -> int:
        count = 0
        for a, b in zip(node.path.split("."), parts):
            if a != b:
                break
            count += 1
        return count

    best = max(graph.stateful(), key=shared, default=None)
    return best if best is not None and shared(best) > 0 else None


def load_weights(module, graph: Graph, path, built: Graph | None = None) -> list[Diagnostic]:
    """Load the checkpoint at `path`, compared with `graph`, into the lowered `module`, built from
    `built` (default `graph`; a part of it, such as its feature maps, takes only its own keys); the
    warnings that leave it partly loaded (W0403: another head). Raises ArchError on any E06xx."""
    import torch

    from archdsl.diagnostics import ArchError

    try:
        state = read_tensors(path)
    except WeightsError as exc:
        raise ArchError([exc.diagnostic]) from None
    found = compare(graph, {key: tuple(t.shape) for key, t in state.items() if isinstance(t, torch.Tensor)})
    if any(d.is_error for d in found):
        raise ArchError(found)
    head = head_node(graph, {k: tuple(t.shape) for k, t in state.items()})
    skip = {e.key for e in node_state(head, graph)} if head is not None else set()
    kept = {key: value for key, value in state.items() if key not in skip}
    if built is not None and built is not graph:
        own = {e.key for node in built.stateful() for e in node_state(node, built)}
        kept = {key: value for key, value in kept.items() if key in own}
    missing, unexpected = module.load_state_dict(kept, strict=False)
    left = [key for key in missing if key not in skip and not key.endswith(OPTIONAL)]
    assert not left and not unexpected, (left, unexpected)  # compare() found them all
    return found
