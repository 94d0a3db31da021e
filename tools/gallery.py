"""Regenerate docs/gallery.md and its images: every spec under specs/, drawn at block depth.

    python3 -m tools.gallery        (from the repository root)

A development tool: it writes into the checkout's docs/, so it is not part of the package.
Images go to docs/gallery/ (one PNG per spec; stale ones are removed). Needs Graphviz's `dot`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from archdsl.api import analyse
from archdsl.diagnostics import render_all
from archdsl.backends.diagram.output import RenderError, write_diagram
from archdsl.backends.summary.table import macs_text, totals
from archdsl.zoo import is_library

ROOT = Path(__file__).resolve().parents[1]
#: each picture stays under this, so the gallery keeps the repository small (tests/test_render.py)
MAX_BYTES = 400_000
DPI = 96

INTRO = """\
# Gallery

Every network bundled under `specs/`, drawn from its IR at block depth
(`archdsl render SPEC -o FILE.png --depth block`). Stages are clusters; consecutive
identical blocks fold into one box marked `xN` (`layer3.1..5  bottleneck x5`); edges
carry the tensor shape they transport (channels x height x width, for one image);
dashed edges are shortcuts; colours follow the legend under each title. MACs count the
multiply-accumulates of conv and linear layers, the convention torchvision publishes;
`archdsl summary SPEC` prints the same numbers per layer.

Regenerate this page and its images (after adding or changing a spec; needs Graphviz's `dot`):

```sh
python3 -m tools.gallery
```
"""


def image_name(spec: Path, specs: Path) -> str:
    """`specs/seeds/003_d2l.arch` -> `seeds-003_d2l.png`."""
    return "-".join(spec.relative_to(specs).with_suffix("").parts) + ".png"


def regenerate(root: Path = ROOT) -> int:
    """Write docs/gallery.md and docs/gallery/*.png; 0 if every spec was drawn, 1 otherwise."""
    specs_dir, docs = root / "specs", root / "docs"
    images = docs / "gallery"
    images.mkdir(parents=True, exist_ok=True)
    index, sections, written, failed = [], [], set(), 0
    for spec in sorted((p for p in specs_dir.rglob("*.arch") if not is_library(p)), key=_natural):
        shown = spec.relative_to(root).as_posix()
        graph, diagnostics = analyse(spec)
        if graph is None:
            print(render_all(diagnostics), file=sys.stderr)
            print(f"gallery: skipped {shown}: it has errors", file=sys.stderr)
            failed = 1
            continue
        name = image_name(spec, specs_dir)
        try:
            dpi = DPI
            write_diagram(graph, images / name, "block", "TB", dpi)
            while (images / name).stat().st_size >= MAX_BYTES and dpi > 30:  # a tall network: draw it smaller
                dpi = int(dpi * 0.85)
                write_diagram(graph, images / name, "block", "TB", dpi)
        except RenderError as exc:
            print(f"gallery: {exc.message}\n  help: {exc.help}", file=sys.stderr)
            return 1
        written.add(name)
        t = totals(graph)
        facts = f"{t.params:,} parameters · {macs_text(t.macs)} at {graph.input_type} → {graph.outputs_text()}"
        index.append(f"| [{graph.name}](#{_anchor(graph.name)}) | `{shown}` | {t.params / 1e6:.2f} M | "
                     f"{t.macs / 1e9:.3f} | {graph.input_type} |")
        sections.append(f"## {graph.name}\n\n`{shown}` · {facts}\n\n![{graph.name} at block depth](gallery/{name})\n")
    for stale in images.glob("*.png"):
        if stale.name not in written:
            stale.unlink()
    table = ["| network | spec | parameters | GMACs | input |", "|---|---|---:|---:|---|", *index]
    (docs / "gallery.md").write_text(INTRO + "\n" + "\n".join(table) + "\n\n" + "\n".join(sections),
                                     encoding="utf-8")
    print(f"gallery: {len(written)} specs drawn into {images.relative_to(root)}/, index in docs/gallery.md")
    return failed


def _natural(path: Path) -> list:
    """resnet18 before resnet101: numbers in names compare as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", path.as_posix())]


def _anchor(title: str) -> str:
    """GitHub's heading anchor for a network name."""
    return "".join(ch for ch in title.lower().replace(" ", "-") if ch.isalnum() or ch in "-_")


if __name__ == "__main__":
    sys.exit(regenerate())
