"""Write the reference cards of torchvision's detection networks from torchvision itself.

    /tmp/refs/bin/python tests/goldens/cards/make_detection_cards.py [NAME...] [--out DIR]

The networks: `resnet50_fpn` (backbone_utils.resnet_fpn_backbone('resnet50', weights=None,
trainable_layers=5), its five maps), `retinanet_resnet50_fpn` and `fcos_resnet50_fpn` as torchvision's
builders make them for trained weights (frozen batch norms: the layout of the COCO checkpoints;
`weights_none` holds the layout of the builder called with weights=None, plain batch norms); what
`model.head(model.backbone(x))` returns: the transform, anchors and post-processing are not run. Every state_dict entry is filled by the cards' rule (README.md), the
model runs in eval mode on CPU in float32, on `card_input(shape, seed)` at 64x64, at 96x80 (whose
levels do not halve evenly: 6x5 -> 3x3) and at 160x160. A detector's output tensors are large, so each is stored as its shape, its
norm and sum, and a sample: every `step`-th value of the flattened tensor. For the detectors, the
card also holds the gradients of `loss = sum over outputs of mean(out ** 2)` (eval mode, input 1)
for a few weights, sampled the same way, so the shared heads' gradients are held to torchvision's.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from collections import OrderedDict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # tests/, for cards.py

SIZES = ([1, 3, 64, 64], [1, 3, 96, 80], [1, 3, 160, 160])
#: at most about this many values of each tensor are stored
SAMPLE = 1500
GRADIENTS = {
    "retinanet_resnet50_fpn": ["head.classification_head.conv.0.0.weight", "head.classification_head.cls_logits.weight",
                               "head.regression_head.bbox_reg.bias", "backbone.fpn.layer_blocks.0.0.weight"],
    "fcos_resnet50_fpn": ["head.classification_head.conv.0.weight", "head.classification_head.conv.1.weight",
                          "head.regression_head.bbox_ctrness.weight", "head.regression_head.bbox_reg.weight",
                          "backbone.fpn.extra_blocks.p6.bias"],
}


def reference(name: str):
    """The torchvision module, and a function from an image batch to its outputs by name, in order."""
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    from torchvision.models import detection
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

    if name == "resnet50_fpn":
        model = resnet_fpn_backbone(backbone_name="resnet50", weights=None, trainable_layers=5)
        return model, lambda x: model(x)
    model = pretrained_layout(name)
    return model, lambda x: model.head(list(model.backbone(x).values()))


def pretrained_layout(name: str):
    """The detector as torchvision's builder makes it when given trained weights (the layout of its COCO
    checkpoints and of its published figures): frozen batch norms in the ResNet-50. Its layers are all
    left trainable (trainable_layers=5), which changes no value and no key."""
    from torchvision.models import detection, resnet50
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7
    from torchvision.ops.misc import FrozenBatchNorm2d

    backbone = _resnet_fpn_extractor(resnet50(norm_layer=FrozenBatchNorm2d), 5, returned_layers=[2, 3, 4],
                                     extra_blocks=LastLevelP6P7(256, 256))
    detector = {"retinanet_resnet50_fpn": detection.RetinaNet, "fcos_resnet50_fpn": detection.FCOS}[name]
    return detector(backbone, 91)


def untrained_layout(name: str) -> dict:
    """The parameters and state_dict of torchvision's builder called with weights=None (plain batch norms)."""
    from torchvision.models import detection

    model = getattr(detection, name)(weights=None, weights_backbone=None)
    return {"param_count": sum(p.numel() for p in model.parameters()),
            "state_dict": [[k, list(v.shape)] for k, v in model.state_dict().items()]}


def sampled(t) -> dict:
    flat = t.detach().reshape(-1)
    step = max(1, flat.numel() // SAMPLE)
    return {"shape": list(t.shape), "norm": float(flat.norm()), "sum": float(flat.sum()), "step": step,
            "values": [float(f"{v:.7g}") for v in flat[::step].tolist()]}


def card(name: str) -> dict:
    import torch
    import torchvision

    from cards import card_input, fill

    model, run = reference(name)
    fill(model)
    model.eval()
    runs = []
    for seed, shape in enumerate(SIZES):
        with torch.no_grad():
            outputs = run(card_input(shape, seed))
        runs.append({"input_shape": shape, "seed": seed,
                     "outputs": OrderedDict((key, sampled(value)) for key, value in outputs.items())})
    result = {"model": name, "source": f"torchvision {torchvision.__version__.split('+')[0]}",
              "torch": torch.__version__.split("+")[0],
              "param_count": sum(p.numel() for p in model.parameters()),
              "state_dict": [[k, list(v.shape)] for k, v in model.state_dict().items()],
              "output_names": list(runs[0]["outputs"]), "runs": runs}
    if name in GRADIENTS:
        result["weights_none"] = untrained_layout(name)
        outputs = run(card_input(SIZES[0], 0))
        sum(out.square().mean() for out in outputs.values()).backward()
        weights = dict(model.named_parameters())
        result["gradients"] = {key: sampled(weights[key].grad) for key in GRADIENTS[name]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=["resnet50_fpn", "retinanet_resnet50_fpn", "fcos_resnet50_fpn"])
    parser.add_argument("--out", type=Path, default=HERE / "detection")
    args = parser.parse_args()
    for name in args.names:
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(card(name)))
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
