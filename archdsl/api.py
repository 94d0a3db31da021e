"""The Python front door: load a spec to IR, check it, build a torch module.

Back ends are imported lazily, so loading and checking never import torch.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from pathlib import Path

from archdsl.diagnostics import ArchError, Diagnostic, Source, Span, did_you_mean, error
from archdsl.ir.graph import Graph
from archdsl.limits import Limits
from archdsl.options import COMPILE_MODES, DTYPE_NAMES  # noqa: F401  (re-exported for the CLI)

MAX_SPEC_BYTES = 4 * 1024 * 1024


def read_source(spec) -> tuple[Source | None, list[Diagnostic]]:
    """A spec given as a path (str or os.PathLike), as text, or as a Source. Text is a string
    containing a newline or starting with `network `. An empty string is neither a path nor a
    spec worth checking (most often an unset path, or a file read empty): E0001 says so.
    Raises TypeError for any other kind of value."""
    if isinstance(spec, Source):
        return spec, []
    if isinstance(spec, str):
        if not spec.strip():
            return None, [error("E0001", "the spec is an empty string: no path and no text", None, "",
                                "give the path of a .arch file, or the spec's text")]
        if "\n" in spec or spec.removeprefix("\ufeff").lstrip().startswith("network "):
            return text_source("<string>", spec), []
    elif not isinstance(spec, os.PathLike):
        raise TypeError(f"the spec must be a path, the spec's text or an archdsl Source (build also takes "
                        f"the Graph load returns), not {type(spec).__name__}")
    return read_file(Path(spec))


def read_file(path: Path) -> tuple[Source | None, list[Diagnostic]]:
    """The spec at `path`; E0001 for anything but a readable regular file, E0003 past MAX_SPEC_BYTES.

    A FIFO, a device or a socket is refused from its file type before it is opened, so
    reading can neither block nor run on forever; at most MAX_SPEC_BYTES + 1 bytes are read.
    """
    name = str(path)
    try:
        kind = stat.S_IFMT(path.stat().st_mode)
        if kind != stat.S_IFREG:
            what = _FILE_KINDS.get(kind, "a special file")
            return None, [error("E0001", f"`{name}` is {what}, not a spec", None, "", "give the path of a .arch file")]
        with path.open("rb") as file:
            return read_stream(name, file)
    except FileNotFoundError:
        from archdsl.zoo import is_name

        what = "no such file or bundled network" if is_name(name) else "no such file"
        return None, [error("E0001", f"{what}: `{name}`", None, "", _missing_file_hint(path))]
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, [error("E0001", f"cannot read `{name}`: {reason}", None, "", "check the path and its permissions")]


def read_stream(name: str, stream) -> tuple[Source | None, list[Diagnostic]]:
    """The spec in an open binary stream (a file, or standard input for the command line's `-`),
    reported under `name`: at most MAX_SPEC_BYTES + 1 bytes are read (E0003 past the limit), then
    decoded as `decode` does. An OSError while reading is the caller's to report."""
    data = stream.read(MAX_SPEC_BYTES + 1)
    if len(data) > MAX_SPEC_BYTES:
        return None, [error("E0003", f"`{name}` is larger than {MAX_SPEC_BYTES // (1024 * 1024)} MiB", None,
                            "", "a spec is a short text file; is this the right file?")]
    return decode(name, data)


def _missing_file_hint(path: Path, most: int = 2000) -> str:
    """A near name beside a missing spec (`resnet5.arch` -> `resnet50.arch`), or the same name under
    ./specs; listing at most `most` entries of a folder, so a huge one cannot stall the answer."""
    from archdsl.zoo import is_name, near_name

    if is_name(str(path)):
        return near_name(str(path)) or "`archdsl list` shows the bundled networks; or give the path of a .arch file"
    folder = path.parent
    if not folder.is_dir():
        return f"there is no folder `{folder}`"
    try:
        names = [entry.name for _, entry in zip(range(most), os.scandir(folder)) if entry.name.endswith(".arch")]
    except OSError:
        names = []
    bundled = Path("specs") / path.name
    if path.parent == Path(".") and bundled.is_file():
        return f"did you mean `{bundled}`?"
    near = did_you_mean(path.name, names)
    if near:
        return near.replace("`", f"`{folder}/" if folder != Path(".") else "`", 1)
    listed = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
    return "check the path" + (f"; specs there: {listed}" if names else "")


_FILE_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket",
               stat.S_IFCHR: "a device", stat.S_IFBLK: "a device"}


def decode(name: str, data: bytes) -> tuple[Source | None, list[Diagnostic]]:
    """The spec in `data`, read as UTF-8 (a leading byte-order mark is dropped, and columns
    count from the first character after it); E0002 for anything that is not UTF-8 text."""
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[:exc.start].decode("utf-8")  # valid up to the bad byte; columns count characters
        line = before.count("\n") + 1
        col = len(before) - before.rfind("\n")
        shown = Source(name, data.decode("utf-8", errors="replace"))
        return None, [error("E0002", "the file is not UTF-8 text", Span(shown, line, col, line, col + 1),
                            f"byte 0x{data[exc.start]:02x}", "save the spec as UTF-8")]
    if "\x00" in text:
        at = text.index("\x00")
        line, col = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
        return None, [error("E0002", f"`{name}` is a binary file, not a spec", Span(Source(name, text), line, col,
                            line, col + 1), "a NUL byte", "give the path of a .arch text file")]
    return text_source(name, text), []


def text_source(name: str, text: str) -> Source:
    """A spec's text as a Source: without a leading byte-order mark, with Unix line ends."""
    return Source(name, text.removeprefix("\ufeff").replace("\r\n", "\n"))


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

    from archdsl.zoo import resolve

    limits = limits_arg(limits)
    check_input_size_type(input_size)
    spec, params, input_size = resolve(spec, params, input_size)
    source, diagnostics = read_source(spec)
    graph = None
    if source is not None:
        tree, diagnostics = parse(source)
        if tree is not None:
            graph, diagnostics = elaborate(tree, params, input_size, limits, library=library)
        if graph is None:
            diagnostics = python_file(source) or diagnostics
    return graph, sorted(diagnostics, key=Diagnostic.sort_key)


#: a line only Python has: an import, a def or class, a decorator, a docstring, a main guard, a python shebang
PYTHON_LINE = re.compile(r"\s*(import [\w.]+|from [\w.]+ import\b|def \w+\s*\(|class \w+\s*[(:]|@[\w.]+\s*(\(|$)"
                         r"|\"\"\"|\'\'\'|if __name__\s*==|#!.*\bpython)")


def python_file(source: Source) -> list[Diagnostic]:
    """For a spec that does not check, named `.py` or opening (after blank and comment lines) with
    a line only Python has, the one diagnostic that matters (E0007), at that line; else nothing.
    Python lines further down a spec that opens as one are its errors, reported as such."""
    lines = source.text.split("\n")
    first = next((n for n, text in enumerate(lines, 1) if text.strip() and (
        not text.lstrip().startswith("#") or PYTHON_LINE.match(text))), None)
    line = first if first is not None and PYTHON_LINE.match(lines[first - 1]) else None
    if line is None and not source.name.lower().endswith((".py", ".pyw")):
        return []
    line = line or 1
    width = len(lines[line - 1].rstrip()) or 1
    return [error("E0007", "this looks like Python, not a spec", Span(source, line, 1, line, width + 1),
                  "Python" if PYTHON_LINE.match(lines[line - 1]) else "a Python file",
                  "archdsl reads specs written in its own language (docs/language.md; `archdsl show resnet50` "
                  "prints one to start from); from Python, build one with `archdsl.build(\"net.arch\")`")]


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
