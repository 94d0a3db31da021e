"""Hold every bundled reference spec to the live torchvision / timm model, beyond what a card shows.

    python3 tests/goldens/cards/compare_references.py [NAME...]

Needs torchvision 0.28.0 and timm 1.0.31 beside this project (which the tests do not; see
make_cards.py for how they import on a CPU build of torch). For each spec: the reference's own
state_dict loads into the spec's module with `strict=True` and a head of 7 classes, then both run
on an odd-sized batch (2x3x75x81) in train and in eval mode; the table gives the relative
difference of the outputs, the largest relative difference of any parameter's gradient, and the
largest difference of the norms' running statistics after the step. A card fixes one input in
eval mode; this also covers training-mode normalisation, backward and other sizes.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from make_cards import TORCHVISION, reference  # noqa: E402  (after the path is set)

TIMM = ("resnet50d", "res2net50_26w_4s", "res2net50_48w_2s", "res2net50_14w_8s", "res2net101_26w_4s",
        "res2next50", "seresnet50")
CLASSES = 7


def relative(a, b) -> float:
    return float((a - b).norm() / max(float(b.norm()), 1e-12))


def compare(name: str) -> list[str]:
    import torch

    import archdsl

    ref = reference(name, num_classes=CLASSES)[0]
    ours = archdsl.build(ROOT / "specs" / f"{name}.arch", num_classes=CLASSES)
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 75, 81, generator=torch.Generator().manual_seed(0))
    cells = []
    for mode in ("train", "eval"):
        r, o = copy.deepcopy(ref), copy.deepcopy(ours)
        r.train(mode == "train"), o.train(mode == "train")
        yr, yo = r(x), o(x)
        yr.square().sum().backward()
        yo.square().sum().backward()
        grads = dict(r.named_parameters())
        grad = max(relative(p.grad, grads[k].grad) for k, p in o.named_parameters())
        ref_state = r.state_dict()
        stats = max(float((t - ref_state[k]).abs().max()) for k, t in o.state_dict().items() if "running" in k)
        cells += [f"{relative(yo.detach(), yr.detach()):.1e}", f"{grad:.1e}", f"{stats:.1e}"]
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=sorted(TORCHVISION) + list(TIMM))
    args = parser.parse_args()
    print("| spec | train: output | train: grads | train: running stats | eval: output | eval: grads | "
          "eval: running stats |\n|---|---:|---:|---:|---:|---:|---:|")
    for name in args.names:
        print(f"| {name} | " + " | ".join(compare(name)) + " |", flush=True)


if __name__ == "__main__":
    main()
