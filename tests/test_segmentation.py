"""torchvision's segmentation networks, bundled by name, held to cards made from torchvision's own modules
(tests/goldens/cards/make_segmentation_cards.py; the cards record `out` and `aux` of `aux_loss=True`).

The layout is checked from the IR alone: state_dict keys and shapes as a set, the parameter count, and
the MACs at the declared 520x520 and at 160x160. The built module is checked at two input sizes,
1x3x64x64 and the odd 1x3x97x97, neither of them the declared one, against a sample of the
reference's logits (every class at every 7th pixel) and the norm of the whole map: the module is
built once at 520x520 and must follow the input's size. The forward returns [out, aux] (torchvision's
dict, in its order; [out] without aux_loss), and the IR names them.
"""

import json

import pytest
import torch

import archdsl
from archdsl import zoo
from archdsl.backends.summary.table import summarize
from archdsl.ir.state import parameter_count, state_entries
from cards import CARDS, card_input, fill, relative_error

SEGMENTATION = CARDS / "segmentation"
NAMES = sorted(p.stem for p in SEGMENTATION.glob("*.json"))
SAMPLE = (slice(None), slice(None), slice(3, None, 7), slice(3, None, 7))


def load_card(name: str) -> dict:
    return json.loads((SEGMENTATION / f"{name}.json").read_text())


def aux_args(card: dict) -> dict:
    return {"aux_loss": True} if card["kwargs"].get("aux_loss") else {}


def test_every_segmentation_network_has_a_card():
    bundled = {n for n, m in zoo.models().items() if m.source.split(":")[-1].startswith(("fcn_", "deeplab",
                                                                                                 "lraspp"))}
    assert bundled == set(NAMES) and len(NAMES) >= 4


@pytest.mark.parametrize("name", NAMES)
def test_layout_and_macs_from_the_ir_alone(name):
    card = load_card(name)
    graph = archdsl.load(name, **aux_args(card))
    assert {e.key: list(e.shape) for e in state_entries(graph)} == {k: s for k, s in card["state_dict"]}
    assert parameter_count(graph) == card["param_count"]
    for size, macs in card["macs"].items():
        assert summarize(archdsl.load(name, input_size=int(size), **aux_args(card))).totals.macs == macs, size


@pytest.mark.parametrize("name", NAMES)
def test_module_reproduces_the_card_at_two_other_sizes(name):
    card = load_card(name)
    model = archdsl.build(name, init=False, **aux_args(card))  # declared at 3x520x520
    fill(model)
    model.eval()
    for shape_field, outputs_field, seed in (("input_shape", "outputs", 0), ("odd_input_shape", "odd_outputs", 1)):
        with torch.no_grad():
            got = model(card_input(card[shape_field], seed))
        expected = card[outputs_field]
        assert isinstance(got, list) and len(got) == len(expected)
        for tensor, (key, ref) in zip(got, expected.items()):  # the card's dict, in torchvision's order
            assert list(tensor.shape) == ref["shape"], key
            sample = tensor[SAMPLE].flatten()
            assert relative_error(sample, ref["sample"]) < 1e-4, (key, shape_field)
            assert abs(float(tensor.norm()) - ref["norm"]) / ref["norm"] < 1e-4, (key, shape_field)


@pytest.mark.parametrize("name", NAMES)
def test_outputs_are_named_as_torchvision_s(name):
    card = load_card(name)
    graph = archdsl.load(name, **aux_args(card))
    assert graph.output_names == list(card["outputs"])  # ["out", "aux"], or ["out"]


@pytest.mark.parametrize("name", [n for n in NAMES if "aux" in load_card(n)["outputs"]])
def test_without_aux_loss_the_aux_head_and_its_output_are_gone(name):
    card = load_card(name)
    graph = archdsl.load(name)  # aux_loss=false, as torchvision's builders without weights
    expected = {k: s for k, s in card["state_dict"] if not k.startswith("aux_classifier.")}
    assert {e.key: list(e.shape) for e in state_entries(graph)} == expected
    assert graph.output_names == ["out"]


def test_summary_diagrams_and_feature_info():
    from archdsl.backends.diagram.output import diagram_text
    from archdsl.backends.summary.table import render_text

    graph = archdsl.load("deeplabv3_resnet50", aux_loss=True)
    text = render_text(summarize(graph))
    assert "-> out 21x520x520, aux 21x520x520" in text.splitlines()[0]
    rows = {line.split()[0]: line for line in text.splitlines()[2:] if line.strip()}
    assert "2048x65x65" in rows["backbone.layer4"] and "deeplab_head" in rows["classifier"]
    for fmt in ("dot", "mmd"):
        drawn = diagram_text(graph, fmt, depth="layer")
        # the image-pooling branch's upsample and both heads' upsamples take their size from a value
        assert drawn.count("size of 2048x65x65") == 1 and drawn.count("size of 3x520x520") == 2, fmt
        assert "aux_classifier" in drawn and "classifier" in drawn
    info = archdsl.feature_info(graph)
    assert info.channels() == [21, 21] and info.reduction() == [1, 1] and info.module_name() == ["out", "aux"]
    info = archdsl.feature_info("fcn_resnet50")
    assert info.channels() == [21] and info.module_name() == ["out"]
