"""The reference implementation a spec is timed against: torchvision's or timm's model where
those are importable (on CUDA machines), else the hand-written one in reference_models."""

from __future__ import annotations

from bench.reference_models import REFERENCES

TORCHVISION = {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
               "resnext101_32x8d", "wide_resnet50_2", "densenet121", "densenet161", "densenet169", "densenet201"}
TIMM = {"resnet50d", "seresnet50", "res2net50_26w_4s", "res2net50_14w_8s", "res2net50_48w_2s",
        "res2net101_26w_4s", "res2next50"}


def has_reference(name: str) -> bool:
    return name in REFERENCES


def reference(name: str, num_classes: int = 1000, hand_written: bool = False):
    """(module, where it comes from) for the bundled spec `name`."""
    if not hand_written:
        external = _external(name, num_classes)
        if external is not None:
            return external
    return REFERENCES[name](num_classes), "hand-written"


def _external(name: str, num_classes: int):
    try:
        if name in TORCHVISION:
            import torchvision

            return torchvision.models.get_model(name, weights=None, num_classes=num_classes), "torchvision"
        if name in TIMM:
            import timm

            return timm.create_model(name, pretrained=False, num_classes=num_classes), "timm"
    except ImportError:
        return None
    return None
