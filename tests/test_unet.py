"""The bundled U-Net: a segmentation network written with blocks of the language, any input whose
sides divide by 16, output classes x H x W; it trains, and the checker refuses sizes the skips
cannot join, with the sizes on the way."""

import pytest
import torch

import archdsl
from archdsl.api import analyse

SMALL = {"base": 8, "num_classes": 3}


def test_the_paper_layout_checks_at_its_size():
    graph = archdsl.load("unet")
    assert str(graph.output_type) == "2x256x256"
    keys = {e.key for e in archdsl.ir.state.state_entries(graph)}
    assert {"down1.0.weight", "bottom.2.weight", "up4.up.weight", "up1.2.2.bias", "logits.weight"} <= keys


@pytest.mark.parametrize("side", [64, 96])
def test_it_trains_at_two_input_sizes(side):
    torch.manual_seed(0)
    model = archdsl.build("unet", input_size=(side, side), **SMALL)
    x = torch.randn(4, 1, side, side)
    target = (x[:, 0] > 0).long() + (x[:, 0] > 1).long()  # a per-pixel task the network can learn
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        out = model(x)
        assert out.shape == (4, 3, side, side)
        loss = torch.nn.functional.cross_entropy(out, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


def test_a_size_the_skips_cannot_join_is_refused_with_the_arithmetic():
    graph, found = analyse("unet", input_size=(100, 100))
    assert graph is None and found[0].code == "E0307"
    assert "25x25" in found[0].message and "24x24" in found[0].message
    assert "12x12 at `pool3`" in found[0].help


def test_summary_and_render_show_the_blocks(tmp_path):
    from archdsl.cli import main

    assert main(["summary", "unet", "--depth", "1"]) == 0
    assert main(["render", "unet", "-o", str(tmp_path / "unet.dot")]) == 0
    assert "double_conv" in (tmp_path / "unet.dot").read_text()
