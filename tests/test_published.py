"""The whole bundled torchvision zoo held to torchvision's published figures (tests/goldens/published.json,
torchvision 0.28.0's weights metadata): the parameter count exactly, and the MACs at the weights' crop
size within 1% of the published GFLOPS (which count a multiply-add once). The figures are published
to three decimals, so a figure as small as shufflenet_v2_x0_5's 0.040 is itself only good to
+-0.0005 GMACs (1.25% of it): the bar is 1% or that rounding, whichever is wider.

Every model of the table is a case, and every bundled torchvision network is in the table."""

import json
import subprocess
import sys

import pytest

import archdsl
from archdsl import zoo
from archdsl.backends.summary.table import summarize
from conftest import ROOT

PUBLISHED = json.loads((ROOT / "tests" / "goldens" / "published.json").read_text())["models"]
#: half a unit of the published figures' last decimal, in MACs
ROUNDING = 0.0005e9


def torchvision_names():
    return {name for name, model in zoo.models().items() if model.source.startswith("torchvision:")}


def test_every_bundled_torchvision_network_is_in_the_table():
    assert torchvision_names() <= set(PUBLISHED)
    assert set(PUBLISHED) <= torchvision_names()


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_params_and_macs_match_torchvision_s_published_figures(name):
    row = PUBLISHED[name]
    assert name in torchvision_names()
    summary = summarize(archdsl.load(name, input_size=row["crop_size"], **row.get("args", {})))
    assert summary.input == f"3x{row['crop_size']}x{row['crop_size']}"
    # inception_v3's published count includes the AuxLogits head, which aux_logits=False leaves out
    assert summary.totals.params + row.get("aux_params", 0) == row["num_params"]
    published = row["gflops"] * 1e9
    assert abs(summary.totals.macs - published) <= max(0.01 * published, ROUNDING)


def test_inception_v3_s_difference_is_exactly_the_aux_head():
    # torchvision's InceptionAux(768, 1000): conv0 1x1 768->128, conv1 5x5 128->768 (BasicConv2d: conv
    # without bias and a norm), fc Linear(768, 1000)
    aux = 768 * 128 + 2 * 128 + 128 * 768 * 25 + 2 * 768 + 768 * 1000 + 1000
    assert PUBLISHED["inception_v3"]["aux_params"] == aux


def test_the_cli_json_gives_the_same_figures():
    row = PUBLISHED["squeezenet1_1"]
    out = subprocess.run([sys.executable, "-m", "archdsl", "summary", "squeezenet1_1", "--json",
                          "--input", f"3x{row['crop_size']}x{row['crop_size']}"],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout
    data = json.loads(out)
    assert data["params"] == row["num_params"]
    assert data["macs"] == pytest.approx(row["gflops"] * 1e9, rel=0.01)
