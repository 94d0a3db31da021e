"""Stages, blocks and scopes are modules at run time: hooks on them fire as on the reference.

tests/goldens/hooks.json holds what torchvision's own resnet50 and densenet121 hand to forward
hooks and pre-hooks on their stages, blocks, a transition and a leaf layer, filled by the cards'
rule, on the card's input (made by tests/goldens/cards/make_hook_cards.py; no torchvision here).
"""

import json
from pathlib import Path

import pytest
import torch

import archdsl
from archdsl.backends.torch.codegen import forwards
from cards import card_input, fill, relative_error

HOOKS = json.loads((Path(__file__).parent / "goldens" / "hooks.json").read_text())


def fingerprint(t: torch.Tensor) -> dict:
    return {"shape": list(t.shape), "norm": float(t.norm()), "channel_means": t.mean(dim=(0, 2, 3))}


def record_hooks(model, paths):
    seen = {path: {"pre_calls": 0, "calls": 0} for path in paths}
    for path, record in seen.items():
        module = model.get_submodule(path)
        module.register_forward_pre_hook(lambda m, args, r=record: r.update(pre_calls=r["pre_calls"] + 1))
        module.register_forward_hook(lambda m, args, out, r=record: r.update(
            calls=r["calls"] + 1, input=fingerprint(args[0]), output=fingerprint(out)))
    return seen


@pytest.mark.parametrize("name", sorted(HOOKS))
@torch.no_grad()
def test_hooks_on_stages_and_blocks_see_what_the_reference_hands_them(name):
    card = HOOKS[name]
    model = archdsl.build(name, init=False).eval()
    fill(model)
    seen = record_hooks(model, card["hooks"])
    model(card_input(card["input_shape"], 0))
    for path, expected in card["hooks"].items():
        got = seen[path]
        assert (got["pre_calls"], got["calls"]) == (1, 1), path
        for side in ("input", "output"):
            assert got[side]["shape"] == expected[side]["shape"], (path, side)
            assert relative_error(got[side]["channel_means"], expected[side]["channel_means"]) < 1e-4, (path, side)
            assert abs(got[side]["norm"] - expected[side]["norm"]) <= 1e-4 * expected[side]["norm"], (path, side)


@torch.no_grad()
def test_a_hook_can_change_a_stages_output_and_a_pre_hook_its_input():
    model = archdsl.build("resnet18", init=False).eval()
    x = torch.randn(1, 3, 64, 64)
    plain = model(x)
    handle = model.layer4.register_forward_hook(lambda m, args, out: torch.zeros_like(out))
    zeroed = model(x)
    handle.remove()
    handle = model.layer1.register_forward_pre_hook(lambda m, args: (torch.zeros_like(args[0]),))
    fed_zeros = model(x)
    handle.remove()
    assert torch.equal(zeroed, model.fc(torch.zeros(1, 512)))  # everything after layer4 saw zeros
    assert not torch.equal(fed_zeros, plain) and torch.equal(model(x), plain)


@torch.no_grad()
def test_a_stage_runs_alone_and_prints_as_a_module():
    model = archdsl.build("resnet50", init=False).eval()
    x = torch.randn(2, 1024, 4, 4)
    assert model.layer4(x).shape == (2, 2048, 2, 2)
    assert torch.equal(model.layer4(x), model.layer4._modules["2"](model.layer4._modules["1"](model.layer4._modules["0"](x))))
    assert type(model.layer4).__name__ == "BottleneckStage" and type(model.layer4._modules["0"]).__name__ == "Bottleneck"
    assert "(layer4): BottleneckStage(" in repr(model)


def test_every_stage_block_and_scope_of_the_bundled_families_is_a_module():
    expected = {"resnet50": ["layer1", "layer1.0", "layer2.0.downsample", "layer4.2"],
                "densenet121": ["features", "features.denseblock1", "features.transition3"],
                "mobilenet_v2": ["features", "features.1", "features.1.conv", "features.17.conv.0"],
                "inception_v3": ["Mixed_5b", "Mixed_5b.branch1x1", "Mixed_7c.branch3x3_2a"],
                "unet": ["down1", "up4", "up4.2"]}
    for name, paths in expected.items():
        units = dict(forwards(archdsl.build(name, init=False)))
        assert all(path in units for path in paths), (name, sorted(set(paths) - set(units)))


def test_compile_still_sees_one_graph():
    from archdsl.backends.torch.options import try_compile

    report = try_compile(archdsl.build("resnet18", init=False), (3, 32, 32))
    assert report.graphs == 1 and report.graph_breaks == 0 and report.ok, report
