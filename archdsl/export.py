"""ONNX export: the built module through torch.onnx (the torch.export-based exporter), checked
by onnx.checker, then run in onnxruntime on a random input and compared with the eager module.

Needs the `[onnx]` extra (onnx, onnxscript, onnxruntime); torch and onnx are imported only here,
when an export runs.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from archdsl.diagnostics import ArchError, Diagnostic, error
from archdsl.ir.graph import Graph

#: largest |onnxruntime - eager| over the largest |eager| an export may show
TOLERANCE = 1e-4


@dataclass(frozen=True)
class ExportReport:
    """What exporting a network and running the file in onnxruntime showed."""

    path: Path
    opset: int
    batch: int
    seconds: float
    error: float  # max |onnxruntime - eager| over max |eager|, the largest over the outputs
    dynamic: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.error <= TOLERANCE

    def __str__(self) -> str:
        axes = f", dynamic {' and '.join(self.dynamic)}" if self.dynamic else ""
        return (f"wrote {self.path} (ONNX opset {self.opset}{axes}, {self.seconds:.1f}s); onnx.checker: ok; "
                f"onnxruntime at batch {self.batch}: max |onnx - eager| = {self.error:.1e} of the largest output "
                f"(tolerance {TOLERANCE:.0e})")


def size_refusal(graph: Graph) -> Diagnostic:
    """E0702: a graph whose lowering fixes sizes worked out from its declared input cannot take another."""
    return error("E0702", f"{graph.name} is fixed to its input size {graph.input_type}: dynamic height and width "
                          "cannot be exported", graph.size_fixed_by, graph.size_fixed_why,
                 "export without --dynamic-size (a fixed size); a spec checked at another size (--input) "
                 "exports at that one")


def missing_packages() -> list[str]:
    """The packages of the `[onnx]` extra that are not installed."""
    missing = []
    try:
        import onnx  # noqa: F401
    except ModuleNotFoundError:
        missing.append("onnx")
    try:
        import onnxscript  # noqa: F401
    except ModuleNotFoundError:
        missing.append("onnxscript")
    try:
        import onnxruntime  # noqa: F401
    except ModuleNotFoundError:
        missing.append("onnxruntime")
    return missing


def export_onnx(module, graph: Graph, output, *, dynamic_batch: bool = True, dynamic_size: bool = False,
                opset: int | None = None) -> ExportReport:
    """Export `module` (built from `graph`) to `output`, check it and compare onnxruntime with eager.
    The batch dimension is free unless `dynamic_batch=False` (then it is 1), as in timm's
    onnx_export and `compile -o FILE.pt2`; height and width are free with `dynamic_size=True`.

    Raises ArchError: E0701 without the `[onnx]` packages, E0702 for dynamic_size on a graph
    fixed to its size, E0703 where torch.onnx or onnx.checker fails."""
    if dynamic_size and graph.size_fixed_by is not None:
        raise ArchError([size_refusal(graph)])
    missing = missing_packages()
    if missing:
        raise ArchError([error("E0701", f"exporting to ONNX needs {', '.join(missing)}, which "
                                        f"{'is' if len(missing) == 1 else 'are'} not installed", None, "",
                               "python3 -m pip install 'archdsl[onnx]' (onnx, onnxscript, onnxruntime)")])
    import torch

    output = Path(output)
    batch = 2 if dynamic_batch else 1
    x = example_input(graph, batch)
    module = module.eval()
    started = time.perf_counter()
    program_opset = _export(module, x, output, _axes(dynamic_batch, dynamic_size), opset, graph.output_names)
    seconds = time.perf_counter() - started
    _check(output)
    with torch.no_grad():
        eager = module(x)
    eager = [y.float() for y in (eager if isinstance(eager, (list, tuple)) else [eager])]
    ours = [torch.from_numpy(y) for y in _run(output, x.numpy())]
    err = max(float((o - e).abs().max() / e.abs().max().clamp_min(1e-12)) for o, e in zip(ours, eager))
    dynamic = tuple(name for name, on in (("batch", dynamic_batch), ("height/width", dynamic_size)) if on)
    return ExportReport(output, program_opset, batch, seconds, err, dynamic)


def example_input(graph: Graph, batch: int):
    """A reproducible random batch of the graph's input size (fp32; the forward casts it to the
    module's dtype)."""
    import torch

    t = graph.input_type
    return torch.randn(batch, t.channels, t.height, t.width, generator=torch.Generator().manual_seed(0))


def _axes(dynamic_batch: bool, dynamic_size: bool) -> dict[int, object] | None:
    from torch.export import Dim

    axes = {**({0: Dim.DYNAMIC} if dynamic_batch else {}), **({2: Dim.DYNAMIC, 3: Dim.DYNAMIC} if dynamic_size else {})}
    return axes or None


def _export(module, x, output: Path, axes, opset: int | None, names: list[str]) -> int:
    """torch.onnx.export with the torch.export-based exporter, the outputs named `names`; the opset written."""
    import onnx
    import torch

    for name in ("torch.onnx", "onnxscript"):  # "torchvision is not installed", version-converter tracebacks
        logging.getLogger(name).setLevel(logging.CRITICAL)
    options = {"opset_version": opset} if opset is not None else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch's own deprecations, inside the exporter
            torch.onnx.export(module, (x,), str(output), dynamo=True, input_names=["input"],
                              output_names=names, dynamic_shapes=(axes,) if axes else None, verbose=False,
                              **options)
    except Exception as exc:  # the exporter raises many kinds; each is one diagnostic here
        raise ArchError([_failed("torch.onnx could not export the module", exc)]) from None
    model = onnx.load(str(output), load_external_data=False)
    written = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset is not None and written != opset:
        output.unlink(missing_ok=True)
        raise ArchError([error("E0703", f"torch.onnx could not write opset {opset}: the model converts to opset "
                                        f"{written} only", None, "", f"export with --opset {written} or without "
                                        "--opset (the exporter's default)")])
    return written


def _check(output: Path) -> None:
    import onnx

    try:
        onnx.checker.check_model(str(output), full_check=True)
    except Exception as exc:
        raise ArchError([_failed("onnx.checker refuses the exported model", exc)]) from None


def _run(output: Path, x):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def _failed(what: str, exc: Exception) -> Diagnostic:
    first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return error("E0703", f"{what}: {type(exc).__name__}: {first[:300]}", None, "",
                 "export without --dynamic-size or with another --opset; if it persists, please report it")
