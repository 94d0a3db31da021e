"""`archdsl compile SPEC -o model.pt2`: the built module as a torch.export program, saved with
torch.export.save, for torch.export.load (or AOTInductor) to run without archdsl.

torch is imported only here, when a program is written.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

from archdsl.diagnostics import ArchError, error
from archdsl.export import example_input
from archdsl.ir.graph import Graph

#: the suffix torch.export.save's files have
SUFFIX = ".pt2"


def save_program(module, graph: Graph, output) -> str:
    """Export `module` (built from `graph`, put in eval mode) with torch.export.export on an example
    batch of the graph's input size, the batch dimension left dynamic, and save it at `output`.
    What was written, in one line. Raises ArchError (E0004) where the file cannot be written."""
    import torch

    output = Path(output)
    if not output.parent.is_dir():  # before the work, not after it
        raise _unwritable(output, "no such folder")
    module = module.eval()
    started = time.perf_counter()
    x = example_input(graph, 2)  # 2, not 1: a batch of 1 would be specialised to 1
    program = torch.export.export(module, (x,), dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
    data = io.BytesIO()
    torch.export.save(program, data)
    try:
        output.write_bytes(data.getvalue())
    except OSError as exc:
        raise _unwritable(output, exc.strerror or str(exc)) from None
    t = graph.input_type
    params = sum(p.numel() for p in module.parameters())
    return (f"wrote {output} (torch.export program of {graph.name}: input Nx{t.channels}x{t.height}x{t.width} "
            f"for any batch N, {params:,} parameters, eval mode; {time.perf_counter() - started:.1f}s); "
            f"load it with torch.export.load({str(output)!r}).module()")


def _unwritable(output: Path, why: str) -> ArchError:
    return ArchError([error("E0004", f"cannot write `{output}`: {why}", None, "",
                            "check that the folder exists and is writable")])
