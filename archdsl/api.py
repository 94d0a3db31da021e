"""The Python front door: load a spec to IR, check it, build a torch module.

Back ends are imported lazily, so loading and checking never import torch.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from archdsl.diagnostics import ArchError, Diagnostic, Source, Span, did_you_mean, error
from archdsl.ir.graph import Graph
from archdsl.limits import Limits

MAX_SPEC_BYTES = 4 * 1024 * 1024
#: the dtype names `build(dtype=...)` and `archdsl compile --dtype` take, besides torch dtypes
DTYPE_NAMES = ("fp32", "bf16", "fp16")
#: the modes `build(compile=...)` and `archdsl compile --torch-compile` take
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def read_source(spec) -> tuple[Source | None, list[Diagnostic]]:
    """A spec given as a path, as text, or as a Source. Text is anything containing a newline."""
    if isinstance(spec, Source):
        return spec, []
    if isinstance(spec, str) and ("\n" in spec or spec.lstrip().startswith("network ")):
        return Source("<string>", spec), []
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
            data = file.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        return None, [error("E0001", f"no such file: `{name}`", None, "", _missing_file_hint(path))]
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, [error("E0001", f"cannot read `{name}`: {reason}", None, "", "check the path and its permissions")]
    if len(data) > MAX_SPEC_BYTES:
        return None, [error("E0003", f"`{name}` is larger than {MAX_SPEC_BYTES // (1024 * 1024)} MiB", None,
                            "", "a spec is a short text file; is this the right file?")]
    return decode(name, data)


def _missing_file_hint(path: Path, most: int = 2000) -> str:
    """A near name beside a missing spec (`resnet5.arch` -> `resnet50.arch`), or the same name under
    ./specs; listing at most `most` entries of a folder, so a huge one cannot stall the answer."""
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
        return None, [error("E0002", f"`{name}` is a binary file, not a spec", None, "",
                            "give the path of a .arch text file")]
    return Source(name, text.replace("\r\n", "\n")), []


def analyse(spec, params: dict | None = None, input_size=None,
            limits: Limits | None = None) -> tuple[Graph | None, list[Diagnostic]]:
    """Parse and elaborate a spec; returns the IR (None on errors) and every diagnostic, sorted.

    The spec's text is only ever parsed, never run as code. A network over `limits`
    (default: `Limits()`, see archdsl.limits) is an error (E0501-E0503).
    """
    from archdsl.semantics import elaborate
    from archdsl.syntax.parser import parse

    source, diagnostics = read_source(spec)
    graph = None
    if source is not None:
        tree, diagnostics = parse(source)
        if tree is not None:
            graph, diagnostics = elaborate(tree, params, input_size, limits)
    return graph, sorted(diagnostics, key=Diagnostic.sort_key)


def check(spec, input_size=None, *, limits: Limits | None = None, **params) -> list[Diagnostic]:
    """Every diagnostic (errors and warnings) for `spec` with the given parameter values."""
    return analyse(spec, params, input_size, limits)[1]


def load(spec, input_size=None, *, limits: Limits | None = None, **params) -> Graph:
    """The verified IR of `spec`. Raises ArchError carrying every diagnostic if it has errors."""
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
    return load(spec.source, size, limits=limits, **{**spec.params, **params})


NO_TORCH = ("building a module needs PyTorch, which is not installed: `python3 -m pip install torch` "
            "(the README shows how to get the CPU build); load, check, summary and render work without it")


def build(spec, *, compile=False, input_size=None, init: bool = True, dtype=None, channels_last: bool = False,
          device=None, limits: Limits | None = None, **params):
    """A torch.nn.Module for `spec` (a path, spec text, or an IR Graph from `load`).

    Keyword arguments set the spec's parameters (`num_classes=5`). The network must fit
    `limits` (default `Limits()`: 2 billion parameters, 8 GiB of activations for one image);
    that is checked on the IR, before torch allocates anything, and raises ArchError.
    The fast path is one argument each, applied in this order:

    - `dtype` (a torch.dtype, or "fp32", "bf16", "fp16"): parameters are cast to it, and the
      forward's first step casts the input to the parameters' dtype (so a later `.float()` works);
    - `channels_last=True`: conv weights, and the input, in the NHWC memory layout;
    - `device` ("cuda", a torch.device): where the parameters live (the input is not moved);
    - `compile=True`, or a mode ("reduce-overhead", "max-autotune", ...): wrapped in torch.compile.
    """
    from archdsl.semantics.budget import check_graph

    try:
        from compiler.torch import lower
        from compiler.torch.options import as_dtype, compile_mode, prepare
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        raise ModuleNotFoundError(NO_TORCH, name="torch") from exc

    as_dtype(dtype), compile_mode(compile)  # bad options fail before the work
    graph = _graph_for(spec, input_size, limits, params)
    over = check_graph(graph, limits or Limits())  # a Graph may have been loaded with higher limits
    if over:
        raise ArchError(over)
    module = lower(graph, init=init)
    return prepare(module, dtype=dtype, channels_last=channels_last, device=device, compile=compile)
