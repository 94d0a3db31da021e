"""Regenerate the table of docs/import.md: each torchvision family imported with `archdsl import`,
its length beside the bundled spec's, and the round trip measured.

    python3 -m tools.import_table            (from the repository root; prints the table)
    python3 -m tools.import_table --write    (also puts it into docs/import.md)

Needs a Python where both archdsl and torchvision import (torchvision is no dependency of archdsl,
and the test suite never imports it). A development tool: not part of the package.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from archdsl.backends.importer import import_module
from archdsl.backends.importer.sources import resolve
from archdsl.diagnostics import ArchError
from archdsl.zoo import find

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "import.md"
START, END = "<!-- import table: tools/import_table.py -->", "<!-- end of import table -->"

#: (family, SOURCE, bundled network name, input size): one network of each torchvision family
FAMILIES = [
    ("ResNet", "torchvision:resnet50", "resnet50", (3, 224, 224)),
    ("DenseNet", "torchvision:densenet121", "densenet121", (3, 224, 224)),
    ("MobileNet V2", "torchvision:mobilenet_v2", "mobilenet_v2", (3, 224, 224)),
    ("MobileNet V3", "torchvision:mobilenet_v3_large", "mobilenet_v3_large", (3, 224, 224)),
    ("EfficientNet", "torchvision:efficientnet_b0", "efficientnet_b0", (3, 224, 224)),
    ("RegNet", "torchvision:regnet_y_400mf", "regnet_y_400mf", (3, 224, 224)),
    ("ConvNeXt", "torchvision:convnext_tiny", "convnext_tiny", (3, 224, 224)),
    ("ShuffleNet V2", "torchvision:shufflenet_v2_x1_0", "shufflenet_v2_x1_0", (3, 224, 224)),
    ("VGG", "torchvision:vgg16", "vgg16", (3, 224, 224)),
    ("SqueezeNet", "torchvision:squeezenet1_0", "squeezenet1_0", (3, 224, 224)),
    ("GoogLeNet", "torchvision:googlenet(aux_logits=False)", "googlenet", (3, 224, 224)),
    ("Inception v3", "torchvision:inception_v3(aux_logits=False)", "inception_v3", (3, 299, 299)),
]


def spec_lines(text: str) -> int:
    """Lines that say something: not blank, not only a comment."""
    return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))


def row(family: str, source: str, bundled: str, size) -> str:
    theirs = spec_lines(find(bundled).path.read_text())
    started = time.perf_counter()
    try:
        done = import_module(resolve(source), size, origin=source)
    except ArchError as exc:
        first = exc.diagnostics[0]
        return f"| {family} | `{source}` | refused: {first.code} {first.message} | {theirs} | | |"
    ours = spec_lines(done.text)
    rt = done.round_trip
    verdict = f"{'exact' if rt.ok else 'DIFFERS'}: {rt.eval_diff:.1e} / {rt.train_diff:.1e}"
    print(f"{source}: {ours} lines, {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return (f"| {family} | `{source}` | {ours} | {theirs} (`{find(bundled).path.name}`) | {ours / theirs:.2f} "
            f"{'(within 3x)' if ours <= 3 * theirs else '(over 3x)'} | {verdict} |")


def table() -> str:
    lines = ["| family | source | imported spec lines | bundled spec lines | ratio | round trip: max abs diff "
             "eval / train |", "|---|---|---|---|---|---|"]
    lines += [row(*family) for family in FAMILIES]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    text = table()
    print(text)
    if "--write" in argv:
        doc = DOC.read_text()
        pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
        DOC.write_text(pattern.sub(lambda _: f"{START}\n{text}\n{END}", doc))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
