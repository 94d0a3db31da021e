"""Write ../hooks.json: what forward hooks on a reference model's stages and blocks receive.

    python3 tests/goldens/cards/make_hook_cards.py [--out FILE]

Needs torchvision 0.28.0 on CPU PyTorch 2.13.0, as make_cards.py does; the tests read the file
this writes and never import torchvision. For each model below, filled by the cards' rule and in
eval mode on the card's input (2x3x64x64, seed 0), a forward hook and a forward pre-hook on each
listed module record how often they fire, the shapes of the input and the output, and a
fingerprint of each: the per-channel mean over batch and space, and the tensor's norm.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # tests/, for cards.py
sys.path.insert(0, str(HERE))

from make_cards import reference  # noqa: E402  (after the path is set)

#: model -> the modules hooked: stages, blocks, a transition and a leaf layer
HOOKED = {
    "resnet50": ["layer1", "layer2", "layer3", "layer4", "layer1.0", "layer3.5", "layer2.0.downsample", "conv1"],
    "densenet121": ["features.denseblock1", "features.denseblock2", "features.denseblock3",
                    "features.denseblock4", "features.transition1", "features.norm5"],
}
INPUT_SHAPE = [2, 3, 64, 64]


def fingerprint(t) -> dict:
    """The shape, norm and per-channel means of an activation."""
    return {"shape": list(t.shape), "norm": float(f"{float(t.norm()):.8g}"),
            "channel_means": [float(f"{v:.7g}") for v in t.mean(dim=(0, 2, 3)).tolist()]}


def hook_card(name: str) -> dict:
    import torch

    from cards import card_input, fill

    model, source = reference(name)
    fill(model)
    model.eval()
    seen: dict[str, dict] = {}
    for path in HOOKED[name]:
        record = seen.setdefault(path, {"pre_calls": 0, "calls": 0})
        module = model.get_submodule(path)
        module.register_forward_pre_hook(lambda m, args, r=record: r.update(pre_calls=r["pre_calls"] + 1))
        module.register_forward_hook(lambda m, args, out, r=record: r.update(
            calls=r["calls"] + 1, input=fingerprint(args[0]), output=fingerprint(out)))
    with torch.no_grad():
        model(card_input(INPUT_SHAPE, 0))
    return {"model": name, "source": source.split("+")[0], "input_shape": INPUT_SHAPE, "hooks": seen}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE.parent / "hooks.json")
    args = parser.parse_args()
    cards = {name: hook_card(name) for name in HOOKED}
    args.out.write_text(json.dumps(cards, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
