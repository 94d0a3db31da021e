"""The Python front door: load a spec to IR, check it, build a torch module.

Back ends are imported lazily, so loading and checking never import torch.
"""

from __future__ import annotations

import os
from pathlib import Path

from archdsl.diagnostics import ArchError, Diagnostic
from archdsl.ir.graph import Graph
from archdsl.limits import Limits
from archdsl.options import COMPILE_MODES, DTYPE_NAMES  # noqa: F401  (re-exported for the CLI)
# the spec reader lives in archdsl.sources (below the semantics); its names stay importable from here
from archdsl.sources import (MAX_SPEC_BYTES, PYTHON_LINE, decode, python_file, read_file, read_source,  # noqa: F401
                             read_stream, text_source)


def analyse(spec, params: dict | None = None, input_size=None, limits: Limits | None = None, *,
            library: bool = False) -> tuple[Graph | None, list[Diagnostic]]:
    """Parse and elaborate a spec; returns the IR (None on errors) and every diagnostic, sorted.

    The spec's text is only ever parsed, never run as code. `input_size` is what `--input`
    takes (see `load`). A network over `limits` (default: `Limits()`, see archdsl.limits) is
    an error (E0501-E0503). Raises TypeError for an argument of the wrong Python type.
    With `library=True`, a block library (a file of only `block` and `use` lines) is checked
    as one and returned as a `BlockLibrary` in the IR's place; without, it is E0212 (no network).
    """
    from archdsl.semantics import elaborate
    from archdsl.syntax.parser import parse

    from archdsl.zoo import is_unknown_name, resolve, unknown_name

    limits = limits_arg(limits)
    check_input_size_type(input_size)
    spec, params, input_size = resolve(spec, params, input_size)
    source, diagnostics = (None, [unknown_name(spec)]) if is_unknown_name(spec) else read_source(spec)
    graph = None
    if source is not None:
        tree, diagnostics = parse(source)
        if tree is not None:
            graph, diagnostics = elaborate(tree, params, input_size, limits, library=library)
        if graph is None:
            diagnostics = python_file(source) or diagnostics
    return graph, sorted(diagnostics, key=Diagnostic.sort_key)


def limits_arg(limits) -> Limits:
    """`limits=` as the budget to check against: `Limits()` for None; TypeError for anything but a Limits."""
    if limits is None:
        return Limits()
    if not isinstance(limits, Limits):
        raise TypeError(f"limits must be an archdsl.Limits, like Limits(params=10**8), not {type(limits).__name__}")
    return limits


def check_input_size_type(size) -> None:
    """TypeError unless `input_size=` is None, a whole number, text, a tuple or a list; what
    they hold is checked against the spec (E0208), as `--input` is."""
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, str, tuple, list))):
        raise TypeError(f"input_size must be (height, width), (channels, height, width), a whole number for a "
                        f"square, or text like '3x160x160'; not {type(size).__name__}")


def check(spec, input_size=None, *, limits: Limits | None = None, **params) -> list[Diagnostic]:
    """Every diagnostic (errors and warnings) for `spec` with the given parameter values.

    The arguments are those of `load`; a bad parameter value or input size is among the
    diagnostics (E0208) rather than raised. A block library is checked on its own, as
    `archdsl compile LIBRARY --check` does (its definitions and the libraries it uses).
    """
    return analyse(spec, params, input_size, limits, library=True)[1]


def load(spec, input_size=None, *, limits: Limits | None = None, **params) -> Graph:
    """The verified IR of `spec`. Raises ArchError carrying every diagnostic if it has errors.

    - `spec`: the path of a .arch file (str or os.PathLike), the name of a bundled network
      (`archdsl.list_models()`; a path that exists wins), the spec's text (a string with a
      newline in it), or a Source. A name may set parameters and an input size of its own
      (a variant of a family spec); those given here take precedence.
    - `input_size`: a new height and width for the spec's input, as `--input` takes it:
      (height, width), (channels, height, width) with the spec's own channels, a whole number
      for a square, or the same as text ("160x160", "3x160x160"); each side 1 to 65536.
      Another value of those types is an E0208 error; a value of another type, TypeError.
    - `limits`: an archdsl.Limits (default `Limits()`); TypeError for anything else.
    - keyword arguments set the spec's parameters, each a value of its default's kind: a whole
      number, a number, True or False for a true/false parameter, a (height, width) tuple for a
      size; text is read as `-D` reads it ("5x5", "true"). Anything else is E0208.
    """
    graph, diagnostics = analyse(spec, params, input_size, limits)
    if graph is None:
        raise ArchError(diagnostics)
    return graph


def _graph_for(spec, input_size, limits: Limits | None, params: dict) -> Graph:
    """The IR to build: `spec` loaded, or a Graph as it is; a Graph given new parameters or a new
    input size is loaded again from its source, keeping the values it was loaded with otherwise."""
    if not isinstance(spec, Graph):
        return load(spec, input_size, limits=limits, **params)
    if not params and input_size is None:
        return spec
    if spec.source is None:
        raise ValueError("this Graph has no source to load again with new parameters or input size")
    size = input_size if input_size is not None else (spec.input_type.height, spec.input_type.width)
    return load(spec.source, size, limits=limits, **{**spec.overrides, **params})


#: what build raises without torch (ModuleNotFoundError), and the command line reports as E0006
NO_TORCH_HELP = ("`python3 -m pip install torch` (the README shows how to get the CPU build); load, check, "
                 "summary and render work without it")
NO_TORCH = f"building a module needs PyTorch, which is not installed: {NO_TORCH_HELP}"


def feature_info(spec, input_size=None, *, out_indices=None, limits: Limits | None = None, **params):
    """The feature maps of `spec` (a path, name, spec text or Graph; the other arguments as `load`
    takes them) without building it: an archdsl.ir.features.FeatureInfo with timm's `channels()`,
    `reduction()`, `module_name()` and `out_indices` (default: every point). The points are the
    outputs of a spec that lists several (`output from ...`); a classifier's are found on its trunk
    (see archdsl.ir.features). ValueError for a network without them or for bad `out_indices`
    (TypeError where they are not whole numbers)."""
    from archdsl.ir.features import feature_info as info_of

    return info_of(_graph_for(spec, input_size, limits_arg(limits), params), out_indices)


def build(spec, *, compile=False, input_size=None, init: bool = True, dtype=None, channels_last: bool = False,
          device=None, limits: Limits | None = None, weights=None, features_only: bool = False, out_indices=None,
          **params):
    """A torch.nn.Module for `spec` (a path, spec text, or an IR Graph from `load`).

    Keyword arguments set the spec's parameters (`num_classes=5`); they, `input_size` and
    `limits` are taken as `load` takes them (so a spec may not name a parameter like one of
    build's own arguments: E0214). The network must fit
    `limits` (default `Limits()`: 2 billion parameters, 8 GiB of activations for one image);
    that is checked on the IR, before torch allocates anything, and raises ArchError.

    `weights`: a checkpoint to load (a .pth/.pt state_dict, read with weights_only=True, or a
    .safetensors file), with `state_dict`/`model` wrapper dicts and `module.` prefixes taken off.
    Every key and shape must match the spec (ArchError otherwise, as `archdsl check-weights`
    reports it), except a classifier head of another size: with `num_classes` changed, all but
    the head is loaded and a warning (W0403) says so.
    The fast path is one argument each, applied in this order:

    - `dtype` (a torch.dtype, or "fp32", "bf16", "fp16"): parameters are cast to it, and the
      forward's first step casts the input to the parameters' dtype (so a later `.float()` works);
    - `channels_last=True`: conv weights, and the input, in the NHWC memory layout;
    - `device` ("cuda", a torch.device): where the parameters live (the input is not moved);
    - `compile=True`, or a mode ("reduce-overhead", "max-autotune", ...): wrapped in torch.compile.

    `features_only=True` builds the network up to its feature maps (timm's convention; see
    `feature_info`): the forward returns the list of the maps `out_indices` selects (default:
    all), everything after the last of them is left out, and `model.feature_info` describes them.
    `weights` are checked against the whole network and loaded into what is kept. ValueError for
    a network without feature maps, bad `out_indices`, or `out_indices` without `features_only`.
    """
    from archdsl.semantics.budget import check_graph

    try:
        from archdsl.backends.torch import lower
        from archdsl.backends.torch.options import as_device, as_dtype, compile_mode, prepare
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        raise ModuleNotFoundError(NO_TORCH, name="torch") from exc

    as_dtype(dtype), compile_mode(compile), as_device(device)  # bad options fail before the work
    if out_indices is not None and not features_only:
        raise ValueError("out_indices selects feature maps: pass features_only=True with it")
    limits = limits_arg(limits)
    graph = _graph_for(spec, input_size, limits, params)
    over = check_graph(graph, limits)  # a Graph may have been loaded with higher limits
    if over:
        raise ArchError(over)
    built, info = _features(graph, out_indices) if features_only else (graph, None)
    module = lower(built, init=init)
    if weights is not None:
        _load_weights(module, graph, weights, built)
    if info is not None:
        module.feature_info = info
    return prepare(module, dtype=dtype, channels_last=channels_last, device=device, compile=compile)


def _features(graph: Graph, out_indices):
    """The graph of `graph`'s feature maps and their FeatureInfo (archdsl.ir.features)."""
    from archdsl.ir.features import features_only

    return features_only(graph, out_indices)


def _load_weights(module, graph: Graph, path, built: Graph) -> None:
    """The checkpoint at `path`, checked against `graph`, into `module` (built from `built`, all of
    `graph` or its features); its warnings (another head) as Python warnings."""
    import warnings

    from archdsl.diagnostics import render_all
    from archdsl.weights import load_weights

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"weights must be the path of a checkpoint file, not {type(path).__name__}")
    found = load_weights(module, graph, path, built)
    if found:
        warnings.warn(render_all(found), UserWarning, stacklevel=3)


def from_module(module, input_size=(3, 224, 224), name: str | None = None, *, check_roundtrip: bool = True) -> str:
    """The text of a spec computing what `module` (a torch.nn.Module) computes, with its state_dict keys:
    traced with torch.fx, repeated modules written as blocks and rows (docs/import.md). With
    `check_roundtrip`, the spec is built, the module's weights loaded into it and the outputs compared
    in eval and training mode first. Raises ArchError where the module cannot be written exactly."""
    from archdsl.backends.importer import import_module

    return import_module(module, input_size, name, check_roundtrip).text
