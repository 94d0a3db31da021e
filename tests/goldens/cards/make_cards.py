"""Write reference cards from the reference implementations themselves (not from specs).

    python3 tests/goldens/cards/make_cards.py NAME... [--out DIR]

Needs torchvision 0.28.0 and timm 1.0.31 on CPU PyTorch 2.13.0, which the tests do not: the
cards are facts read once from those packages, in the format README.md describes (the same
fill rule, inputs and seeds as the cards in ../shared/goldens). A torchvision wheel whose C
extension does not load against this torch still builds its models: its operator
registrations are skipped below, since no model here uses its custom operators.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # tests/, for cards.py

TORCHVISION = {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
               "resnext101_32x8d", "wide_resnet50_2", "densenet121", "densenet161", "densenet169", "densenet201"}
#: the transformers run at their builder's size, vit_h_14 at 518 (the size of its published
#: weights); the odd input is 97x97 where the network takes any size (Swin, whose windows are then
#: padded), else the same size with another seed (a ViT's position embedding fixes its size)
TRANSFORMERS = {"vit_b_16": 224, "vit_b_32": 224, "vit_l_16": 224, "vit_l_32": 224, "vit_h_14": 518,
                "swin_t": 224, "swin_s": 224, "swin_b": 224, "swin_v2_t": 256, "swin_v2_s": 256, "swin_v2_b": 256,
                "maxvit_t": 224}


def reference(name: str, **kwargs):
    """The reference model for `name` and where it comes from; `kwargs` go to its constructor."""
    # timm imports torchvision too, so the stand-in must be in place before either import.
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    if name in TORCHVISION or name in TRANSFORMERS:
        import torchvision

        return torchvision.models.get_model(name, weights=None, **kwargs), f"torchvision {torchvision.__version__}"
    import timm

    return timm.create_model(name, pretrained=False, **kwargs), f"timm {timm.__version__}"


def card(name: str) -> dict:
    import torch

    from cards import card_input, fill

    size = TRANSFORMERS.get(name)
    model, source = reference(name, **({"image_size": size} if name.startswith("vit") else {}))
    fill(model)
    model.eval()
    odd = size if name.startswith(("vit", "maxvit")) else 97  # MaxViT's stages take multiples of 7
    inputs = {"input_shape": [2, 3, 64, 64], "odd_input_shape": [1, 3, 97, 97]} if size is None else \
        {"input_shape": [1, 3, size, size], "odd_input_shape": [1, 3, odd, odd]}
    with torch.no_grad():
        out = model(card_input(inputs["input_shape"], 0))
        odd = model(card_input(inputs["odd_input_shape"], 1))

    def numbers(t):
        return [[float(f"{v:.7g}") for v in row] for row in t.tolist()]

    return {"model": name, "source": source.split("+")[0], "torch": torch.__version__.split("+")[0],
            "param_count": sum(p.numel() for p in model.parameters()),
            "state_dict": [[k, list(v.shape)] for k, v in model.state_dict().items()],
            "input_shape": inputs["input_shape"], "output_shape": list(out.shape), "logits": numbers(out),
            "odd_input_shape": inputs["odd_input_shape"], "odd_logits": numbers(odd)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    for name in args.names:
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(card(name)))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
