"""docs/language.md's examples of `res2`, `se`, `dense`, `transition` and several outputs are real: they check clean,
build the layers the text names, and the diagnostic it quotes is the one the checker gives."""

import re

import archdsl
from archdsl.ir.state import state_entries
from conftest import ROOT

DOC = (ROOT / "docs" / "language.md").read_text()
BLOCKS = re.findall(r"^```[a-z]*\n(.*?)^```", DOC, re.S | re.M)  # each fenced block, whatever its language

STEM = ("network doc\ninput 3x224x224\nstem\n  conv1 conv 64 7x7 /2 pad=3\n  bn1 bn\n  relu relu\n"
        "  maxpool maxpool 3x3 /2 pad=1\n")
HEAD = "global_avgpool\nflatten\nfc linear 1000\n"


def example(start: str) -> str:
    found = [b for b in BLOCKS if b.startswith(start)]
    assert len(found) == 1, f"docs/language.md has no single example starting {start!r}"
    return found[0]


def keys(text: str) -> dict:
    return {e.key: e.shape for e in state_entries(archdsl.load(text))}


def test_res2_se_example():
    text = STEM + example("stages res2 scales=4 width=26 se=16") + HEAD
    assert archdsl.check(text) == []
    found = keys(text)
    assert found["layer1.0.convs.2.weight"] == (26, 26, 3, 3) and "layer1.0.convs.3.weight" not in found
    assert found["layer1.0.se.fc1.weight"] == (16, 256, 1, 1) and found["layer4.2.se.fc2.bias"] == (2048,)


def test_dense_example_and_its_diagnostic():
    spec = "network doc\ninput 3x224x224\n" + example("param growth = 32") + HEAD
    assert archdsl.check(spec) == []
    found = keys(spec)
    assert found["features.denseblock1.denselayer6.conv2.weight"] == (32, 128, 3, 3)
    assert found["features.transition1.conv.weight"] == (128, 256, 1, 1)
    assert found["features.denseblock2.denselayer1.norm1.weight"] == (128,)

    quoted = example("error[E0323]").splitlines()
    broken = spec.replace("out=256", "out=250")
    (d,) = archdsl.check(broken)
    line = broken.splitlines()[d.span.line - 1]
    assert quoted[0] == f"error[{d.code}]: {d.message}"
    assert quoted[3].split("|", 1)[1].strip() == line.strip()
    assert quoted[4].endswith(" " + d.label) and quoted[5] == f"   = help: {d.help}"


def test_several_outputs_example():
    graph = archdsl.load(example("network tiny_fpn"))
    assert archdsl.check(example("network tiny_fpn")) == []
    assert graph.outputs_text() == "p3 64x28x28, p4 64x14x14, p5 64x7x7"
    info = archdsl.feature_info(graph)
    assert (info.module_name(), info.reduction()) == (["p3", "p4", "p5"], [8, 16, 32])


def test_attention_written_out_checks_and_keeps_the_sequence():
    text = ("network doc\ninput 3x32x32\n" + example("block self_attention heads")
            + 'conv 64 8x8 /8\nrearrange "c h w -> n=(h w) c"\nself_attention 4\n')
    graph = archdsl.load(text)
    assert str(graph.output_type) == "16x64 (n c)"
    assert set(keys(text)) == {"0.weight", "2.qkv.weight", "2.qkv.bias", "2.proj.weight", "2.proj.bias"}


def test_table_block_example():
    text = "network doc\ninput 3x32x32\nconv1 conv 64 3x3 pad=1\n" + example("block preact") + HEAD
    assert archdsl.check(text) == []
    found = keys(text)
    assert found["layer2.0.conv1.weight"] == (128, 64, 3, 3) and found["layer2.0.proj.weight"] == (128, 64, 1, 1)
    assert "layer1.0.proj.weight" not in found and "layer2.1.proj.weight" not in found
