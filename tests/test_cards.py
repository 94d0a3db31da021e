"""Every reference card is reproduced exactly: state_dict keys and shapes, parameter count, logits.

Each card is named for a bundled network and checked through that name (`archdsl.load(NAME)`),
so a family spec serving several names is checked once per name. The logits of the networks
in HEAVY are checked on a sample (SAMPLED) only: building and running each of them takes more
memory and time than the suite can spend on every one; their layouts (keys, shapes, parameter
counts, from the IR alone) are checked all the same.
"""

import pytest
import torch

import archdsl
from archdsl.ir.state import parameter_count, state_entries
from cards import CARDS, card_input, fill, load_card, relative_error

CARD_NAMES = sorted(p.stem for p in CARDS.glob("*.json"))
#: networks over 100M parameters, or ones whose card run takes tens of seconds on two cores
HEAVY = {"regnet_y_128gf", "regnet_y_32gf", "regnet_y_16gf", "regnet_x_32gf", "convnext_large", "convnext_base",
         "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg19", "vgg19_bn", "efficientnet_b6",
         "efficientnet_b7", "efficientnet_v2_l", "efficientnet_v2_m", "wide_resnet101_2", "resnext101_64x4d",
         "vit_l_16", "vit_l_32", "vit_h_14"}
#: the heavy networks whose logits are checked all the same, one of each family
SAMPLED = {"vgg16", "regnet_y_16gf", "efficientnet_v2_m", "convnext_base"}


def at_size(model, name: str, shape):
    """`model`, or where its spec works its axis sizes out for the declared input (Swin's windows), the
    same network built for `shape`'s size with the same weights."""
    graph = archdsl.load(name)
    if graph.size_fixed_by is None or list(shape[2:]) == [graph.input_type.height, graph.input_type.width]:
        return model
    other = archdsl.build(name, input_size=tuple(shape[2:]), init=False).eval()
    other.load_state_dict(model.state_dict())
    return other


@pytest.mark.parametrize("name", CARD_NAMES)
def test_state_dict_layout_from_ir_alone(name):
    card = load_card(name)
    graph = archdsl.load(name)
    ours = {e.key: list(e.shape) for e in state_entries(graph)}
    assert ours == {key: shape for key, shape in card["state_dict"]}
    assert parameter_count(graph) == card["param_count"]


@pytest.mark.parametrize("name", [n for n in CARD_NAMES if n not in HEAVY or n in SAMPLED])
def test_module_reproduces_card_logits(name):
    card = load_card(name)
    model = archdsl.build(name, init=False)
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == {k: s for k, s in card["state_dict"]}
    assert sum(p.numel() for p in model.parameters()) == card["param_count"]
    fill(model)
    model.eval()
    with torch.no_grad():
        out = model(card_input(card["input_shape"], 0))
        odd = at_size(model, name, card["odd_input_shape"])(card_input(card["odd_input_shape"], 1))
    assert list(out.shape) == card["output_shape"]
    assert relative_error(out, card["logits"]) < 1e-4
    assert relative_error(odd, card["odd_logits"]) < 1e-4
    model.load_state_dict(model.state_dict(), strict=True)
