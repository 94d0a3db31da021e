"""torchvision's detection networks, bundled by name, held to cards read from torchvision 0.28 itself
(tests/goldens/cards/detection, made by make_detection_cards.py): `resnet50_fpn` (its five maps) and
the networks of RetinaNet and FCOS (what `model.head(model.backbone(x))` returns).

The layouts (state_dict keys and shapes, parameter counts) are checked from the IR at the declared
size (320x320) and at 160x160; the values at 1x3x64x64, 1x3x96x80 (levels that do not halve evenly)
and 1x3x160x160, small enough for the file to run in well under a minute. The cards hold each output as a sample (every `step`-th value) with
the whole tensor's norm. Our detectors return each level's tensor (N, A*K, H, W); torchvision's head
reshapes each to (N, HWA, K) and concatenates the levels, which `torchvision_layout` does here.
"""

import json

import pytest
import torch

import archdsl
from archdsl.ir.state import parameter_count, state_entries
from cards import CARDS, card_input, fill, relative_error

DETECTION = CARDS / "detection"
NAMES = ["resnet50_fpn", "retinanet_resnet50_fpn", "fcos_resnet50_fpn"]
#: our outputs, in order, grouped as torchvision's outputs: (its key, how many levels, values per position)
GROUPS = {
    "resnet50_fpn": None,  # its five maps are ours one for one: `0` .. `3`, `pool`
    "retinanet_resnet50_fpn": [("cls_logits", 5, 91), ("bbox_regression", 5, 4)],
    "fcos_resnet50_fpn": [("cls_logits", 5, 91), ("bbox_regression", 5, 4), ("bbox_ctrness", 5, 1)],
}


def load_card(name):
    return json.loads((DETECTION / f"{name}.json").read_text())


def torchvision_layout(name, outputs) -> dict:
    """Our list of outputs as torchvision's dict: each level (N, A*K, H, W) as (N, HWA, K), the levels
    of one output concatenated (its RetinaNetHead and FCOSHead do this)."""
    groups = GROUPS[name]
    if groups is None:
        return dict(zip(["0", "1", "2", "3", "pool"], outputs))
    found, at = {}, 0
    for key, levels, per in groups:
        parts = []
        for t in outputs[at:at + levels]:
            n, _, h, w = t.shape
            parts.append(t.view(n, -1, per, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, per))
        found[key] = torch.cat(parts, dim=1)
        at += levels
    return found


def assert_matches(ours: torch.Tensor, ref: dict, what: str):
    assert list(ours.shape) == ref["shape"], what
    flat = ours.detach().reshape(-1)
    assert relative_error(flat[::ref["step"]], ref["values"]) < 1e-4, what
    assert abs(float(flat.norm()) - ref["norm"]) <= 1e-4 * ref["norm"], what


@pytest.mark.parametrize("size", [None, 160])
@pytest.mark.parametrize("name", NAMES)
def test_layout_from_the_ir_at_the_declared_size_and_at_160(name, size):
    card = load_card(name)
    graph = archdsl.load(name, input_size=size) if size else archdsl.load(name)
    assert graph.input_type.height == (size or 320)
    assert {e.key: list(e.shape) for e in state_entries(graph)} == {k: s for k, s in card["state_dict"]}
    assert parameter_count(graph) == card["param_count"]
    assert not [e.key for e in state_entries(graph) if e.key.endswith("num_batches_tracked")]


@pytest.mark.parametrize("name", NAMES[1:])
def test_plain_batch_norms_give_the_layout_of_torchvisions_untrained_builder(name):
    untrained = load_card(name)["weights_none"]
    graph = archdsl.load(name, backbone_norm="bn")
    assert {e.key: list(e.shape) for e in state_entries(graph)} == {k: s for k, s in untrained["state_dict"]}
    assert parameter_count(graph) == untrained["param_count"]


@pytest.mark.parametrize("name", NAMES)
def test_outputs_equal_torchvisions_at_three_sizes(name):
    card = load_card(name)
    model = archdsl.build(name, init=False)
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == {k: s for k, s in card["state_dict"]}
    assert sum(p.numel() for p in model.parameters()) == card["param_count"]
    fill(model)
    model.eval()
    for run in card["runs"]:
        with torch.no_grad():
            ours = torchvision_layout(name, model(card_input(run["input_shape"], run["seed"])))
        assert list(ours) == card["output_names"] == list(run["outputs"])
        for key, ref in run["outputs"].items():
            assert_matches(ours[key], ref, f"{key} at {run['input_shape']}")


@pytest.mark.parametrize("name", NAMES[1:])
def test_the_shared_heads_gradients_are_torchvisions_and_sum_over_the_levels(name):
    card = load_card(name)
    model = archdsl.build(name, init=False)
    fill(model)
    model.eval()
    outputs = model(card_input(card["runs"][0]["input_shape"], 0))
    ours = torchvision_layout(name, outputs)
    loss = sum(t.square().mean() for t in ours.values())
    loss.backward(retain_graph=True)
    for key, ref in card["gradients"].items():
        assert_matches(model.get_parameter(key).grad, ref, f"gradient of {key}")
    # the first conv of the classification head serves all five levels: its gradient is the sum of
    # what each level's logits send back to it
    shared = model.get_parameter(next(k for k in card["gradients"] if k.startswith("head.classification_head.conv")))
    total = ours["cls_logits"].numel()
    per_level = [torch.autograd.grad(level.square().sum() / total, shared, retain_graph=True)[0]
                 for level in outputs[:5]]
    assert all(g.abs().sum() > 0 for g in per_level)
    assert float((shared.grad - sum(per_level)).norm()) <= 1e-5 * float(shared.grad.norm())
