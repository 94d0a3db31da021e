"""Every reference card is reproduced exactly: state_dict keys and shapes, parameter count, logits."""

import pytest
import torch

import archdsl
from archdsl.ir.state import parameter_count, state_entries
from cards import CARDS, card_input, fill, load_card, relative_error
from conftest import spec_path

CARD_NAMES = sorted(p.stem for p in CARDS.glob("*.json"))


@pytest.mark.parametrize("name", CARD_NAMES)
def test_state_dict_layout_from_ir_alone(name):
    card = load_card(name)
    graph = archdsl.load(spec_path(name))
    ours = {e.key: list(e.shape) for e in state_entries(graph)}
    assert ours == {key: shape for key, shape in card["state_dict"]}
    assert parameter_count(graph) == card["param_count"]


@pytest.mark.parametrize("name", CARD_NAMES)
def test_module_reproduces_card_logits(name):
    card = load_card(name)
    model = archdsl.build(spec_path(name), init=False)
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == {k: s for k, s in card["state_dict"]}
    assert sum(p.numel() for p in model.parameters()) == card["param_count"]
    fill(model)
    model.eval()
    with torch.no_grad():
        out = model(card_input(card["input_shape"], 0))
        odd = model(card_input(card["odd_input_shape"], 1))
    assert list(out.shape) == card["output_shape"]
    assert relative_error(out, card["logits"]) < 1e-4
    assert relative_error(odd, card["odd_logits"]) < 1e-4
    model.load_state_dict(model.state_dict(), strict=True)
