"""Section 2, build: spec to module, without parameter initialisation.

Modules are constructed on the meta device, where parameters take no memory and no
initialiser runs, so what is timed is the compiler's work: parse and check (IR), then
lowering to an fx GraphModule with its generated forward. The hand-written reference's
constructor is timed the same way, for scale.
"""

from __future__ import annotations

from pathlib import Path

import torch

from bench.frontend import spec_name
from bench.references import REFERENCES
from bench.timing import median_ms


def build_times(specs: list[Path], repeats: int) -> list[dict]:
    import archdsl
    from archdsl.backends.torch import lower

    rows = []
    for path in specs:
        name = spec_name(path)
        ir = median_ms(lambda: archdsl.load(path), repeats)
        graph = archdsl.load(path)
        with torch.device("meta"):
            lowering = median_ms(lambda: lower(graph, init=False), repeats)
            make = REFERENCES.get(name)
            reference = median_ms(make, repeats) if make else None
        rows.append({"spec": name, "ir_ms": ir, "lower_ms": lowering, "total_ms": ir + lowering,
                     "reference_ms": reference})
    return rows

