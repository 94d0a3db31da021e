"""Write reference cards for torchvision's segmentation models, from torchvision's own modules.

    /tmp/refs/bin/python tests/goldens/cards/make_segmentation_cards.py [NAME...] [--out DIR]

Needs torchvision 0.28.0 on CPU PyTorch 2.13.0 (the venv `../shared/tools/refs_venv.sh` makes); the
tests do not. Each model is `torchvision.models.segmentation.NAME(weights=None, weights_backbone=None,
aux_loss=True)` (lraspp, which has no auxiliary head, without aux_loss), filled by the cards' rule
(README.md) and run in eval mode. Its forward returns a dict of `out` (and `aux`), each (N, classes,
H, W) at the input's size: tens of thousands of numbers, so a card records, per output, the full
tensor's shape, sum and norm and a sample of its logits, every class at the pixels (3 + 7i, 3 + 7j)
(`[:, :, 3::7, 3::7]`). Two inputs, drawn as the other
cards draw theirs: 1x3x64x64 (seed 0) and the odd 1x3x97x97 (seed 1). The layout (state_dict,
parameters) does not depend on the size; the MACs of the convolutions are recorded at the declared
520x520 and at 160x160, counted by torch's FlopCounterMode on the meta device (no arithmetic).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # tests/, for cards.py

NAMES = ("fcn_resnet50", "fcn_resnet101", "deeplabv3_resnet50", "deeplabv3_resnet101",
         "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large")
INPUTS = {"input_shape": ([1, 3, 64, 64], 0), "odd_input_shape": ([1, 3, 97, 97], 1)}
MAC_SIZES = (520, 160)
SAMPLE = (slice(None), slice(None), slice(3, None, 7), slice(3, None, 7))


def kwargs_for(name: str) -> dict:
    """The builder's arguments: no weights, and the auxiliary head where the model has one."""
    return {"weights": None, "weights_backbone": None, **({} if name.startswith("lraspp") else {"aux_loss": True})}


def reference(name: str):
    import torchvision

    builder = getattr(torchvision.models.segmentation, name)
    return builder(**kwargs_for(name)), f"torchvision {torchvision.__version__.split('+')[0]}"


def numbers(t) -> list:
    return [float(f"{v:.7g}") for v in t.flatten().tolist()]


def outputs(result: dict) -> dict:
    return {key: {"shape": list(t.shape), "sum": float(t.sum()), "norm": float(t.norm()),
                  "sample": numbers(t[SAMPLE])} for key, t in result.items()}


def macs(name: str, size: int) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model, _ = reference(name)
        model.eval()
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(torch.empty(1, 3, size, size))
    return counter.get_total_flops() // 2


def card(name: str) -> dict:
    import torch

    from cards import card_input, fill

    model, source = reference(name)
    fill(model)
    model.eval()
    result = {"model": name, "source": source, "torch": torch.__version__.split("+")[0],
              "kwargs": kwargs_for(name),
              "param_count": sum(p.numel() for p in model.parameters()),
              "state_dict": [[k, list(v.shape)] for k, v in model.state_dict().items()],
              "macs": {str(size): macs(name, size) for size in MAC_SIZES}}
    for field, (shape, seed) in INPUTS.items():
        with torch.no_grad():
            out = model(card_input(shape, seed))
        result[field] = shape
        result[field.replace("input_shape", "outputs")] = outputs(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=NAMES)
    parser.add_argument("--out", type=Path, default=HERE / "segmentation")
    args = parser.parse_args()
    args.out.mkdir(exist_ok=True)
    for name in args.names:
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(card(name)))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
