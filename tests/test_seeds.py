"""Every seed network as a spec (specs/seeds/), held to its document: parameter counts worked out
from the article's code, the tensor shapes it prints, and its output; plus the two questions the
seeds raise, answered by the checker."""

import re

import networkx as nx
import pytest
import torch

import archdsl
from archdsl.ir.state import node_state, parameter_count, state_entries
from conftest import SPECS, spec_path


def seed(name):
    return SPECS / "seeds" / f"{name}.arch"


def keras_total(graph, nodes=None):
    """Keras's "Total params": weights plus the norms' moving mean and variance."""
    nodes = graph.stateful() if nodes is None else nodes
    return sum(e.numel for n in nodes for e in node_state(n, graph) if not e.key.endswith("num_batches_tracked"))


def shapes(graph, paths):
    """The output type of each named layer, row or scope (the last node built under its path)."""
    types = {}
    for node in graph.nodes():
        for prefix in {node.path} | {node.path.rsplit(".", k)[0] for k in range(1, node.path.count(".") + 1)}:
            types[prefix] = str(node.type)
    return [types[p] for p in paths]


def conv(cin, cout, k, bias):
    return cin * cout * k * k + (cout if bias else 0)


def test_every_seed_spec_cites_its_document():
    cited = set()
    for path in sorted((SPECS / "seeds").glob("*.arch")):
        first = path.read_text().splitlines()[0]
        match = re.match(r"# Seed (\d{3}) \(\.\./shared/seeds/(\d{3})_[0-9a-f]{16}\.txt\)", first)
        assert match and match[1] == match[2], path.name
        cited.add(match[1])
    assert cited == {"000", "001", "002", "003", "004"}


# --- seed 000: Keras ResNeXt-50 ----------------------------------------------------------

def test_keras_resnext50_matches_the_article():
    graph = archdsl.load(seed("keras_resnext50"))
    expected, cin = conv(3, 64, 7, True) + 4 * 64, 64          # stem conv with bias, BN (4 per channel)
    for filters, blocks in [(128, 2), (256, 3), (512, 5), (1024, 2)]:  # stack(x, filters, blocks)
        for unit in range(1 + blocks):
            expected += conv(cin, filters, 1, False) + 4 * filters                      # 1x1
            expected += 32 * conv(filters // 32, filters // 32, 3, False) + 4 * filters  # 32 slices
            expected += conv(filters, 2 * filters, 1, False) + 4 * 2 * filters         # 1x1 to 2 x filters
            if unit == 0:
                expected += conv(cin, 2 * filters, 1, False) + 4 * 2 * filters         # conv_shortcut
            cin = 2 * filters
    expected += 2048 * 1000 + 1000
    assert keras_total(graph) == expected == 25_097_192
    bns = [n for n in graph.nodes() if n.op == "bn"]
    assert len(bns) == 1 + 16 * 3 + 4 and all(n.eps == 1.001e-5 for n in bns)
    convs = [n for n in graph.nodes() if n.op == "conv"]
    assert [n.bias for n in convs].count(True) == 1 and convs[0].bias
    assert {n.stride for n in convs if n.groups == 32} == {(1, 1), (2, 2)}
    assert shapes(graph, ["0", "1", "4", "5", "stack1", "stack2", "stack3", "stack4", "12"]) == [
        "3x230x230", "64x112x112", "64x114x114", "64x56x56",
        "256x56x56", "512x28x28", "1024x14x14", "2048x7x7", "1000"]


def test_seed000_question_the_channel_mismatch_without_the_projection():
    """Why does Add not fail when conv_shortcut=False? Because every stack's first unit projects.
    Take the projection away and the checker shows the mismatch the article asks about."""
    text = seed("keras_resnext50").read_text()
    assert archdsl.check(text) == []
    broken = text.replace("stride_at=3x3 pad=same\n", "stride_at=3x3 pad=same shortcut=identity\n")
    assert broken != text
    found = archdsl.check(broken)
    first = found[0]
    assert first.code == "E0301" and first.message == "add: channels differ (256 vs 64)"
    assert broken.splitlines()[first.span.line - 1].lstrip().startswith("stack1 [3,")
    assert {d.code for d in found} <= {"E0301", "E0302"} and len(found) == 4  # each stack's first unit


# --- seed 001: ResNet-34 for flowers -----------------------------------------------------

def test_resnet34_flowers_is_torchvision_resnet34_with_5_classes():
    ours = {e.key: e.shape for e in state_entries(archdsl.load(seed("resnet34_flowers")))}
    reference = {e.key: e.shape for e in state_entries(archdsl.load(spec_path("resnet34")))}
    assert ours.pop("fc.weight") == (5, 512) and ours.pop("fc.bias") == (5,)
    assert reference.pop("fc.weight") == (1000, 512) and reference.pop("fc.bias") == (1000,)
    assert ours == reference
    assert parameter_count(archdsl.load(seed("resnet34_flowers"))) == 21_797_672 - 995 * 513 == 21_287_237


# --- seed 002: the Keras ResNet driven by stage tables ----------------------------------

FILTER_LIST_RESNET18 = [[2, [[64, 3], [64, 3]]], [2, [[128, 3], [128, 3]]],
                        [2, [[256, 3], [256, 3]]], [2, [[512, 3], [512, 3]]]]


def as_the_article_wrote_it(filter_list):
    """The article's resnet(10, (32,32,3), ...) as a spec, line by line as its building_block runs:
    the sum `f = add([x, y])` is computed and then dropped: it returns relu(y)."""
    lines = ["network seed002", "input 3x32x32", "param num_classes = 10", "default conv bias=true",
             "default bn eps=0.001 momentum=0.01", "conv 64 7x7 /2 pad=same", "bn", "relu", "maxpool 3x3 /2 pad=same"]
    for i, (repeat, convs) in enumerate(filter_list):
        for j in range(repeat):
            first = j == 0 and i != 0
            lines.append(f"scope block{i}_{j}")
            for k, (filters, kernel) in enumerate(convs):
                lines.append(f"  c{k} conv {filters} {kernel}x{kernel}{' /2' if first and k == 0 else ''} pad=same")
                lines.append(f"  y{k} bn")
                if k < len(convs) - 1:
                    lines.append("  relu")
            x = "input"
            if first:
                lines += [f"  s conv {convs[-1][0]} 1x1 /2 from input", "  x bn"]
                x = "x"
            lines += [f"  f add from {x}, y{len(convs) - 1}", f"  relu from y{len(convs) - 1}"]
    lines += ["global_avgpool", "flatten", "linear num_classes", "softmax"]
    return "\n".join(lines) + "\n"


def test_seed002_discarded_residual_is_reported():
    text = as_the_article_wrote_it(FILTER_LIST_RESNET18)
    found = archdsl.check(text)
    assert {d.code for d in found} == {"W0401"} and not any(d.is_error for d in found)
    assert [text.splitlines()[d.span.line - 1].split()[:2] for d in found] == [["f", "add"]] * 8
    assert all(d.message.endswith("is computed but never used") for d in found)


def test_seed002_summary_counts_what_reaches_the_output():
    """The article's model.summary(): Keras lists only layers connected to the output, so its
    totals leave out the projections that feed the dropped sums."""
    graph = archdsl.load(as_the_article_wrote_it(FILTER_LIST_RESNET18))
    reached = nx.ancestors(graph.dag, graph.output.id)
    nodes = [n for n in graph.stateful() if n.id in reached]
    trainable = sum(e.numel for n in nodes for e in node_state(n, graph) if e.trainable)
    assert (keras_total(graph, nodes), trainable) == (11_019_530, 11_011_722)  # its Total / Trainable


def test_keras_resnet18_cifar_uses_its_residual():
    graph = archdsl.load(seed("keras_resnet18_cifar"))
    assert archdsl.check(seed("keras_resnet18_cifar")) == []
    # the article's figure plus the three projections (1x1 conv with bias, BN) its summary omits
    projections = sum(conv(c // 2, c, 1, True) + 4 * c for c in (128, 256, 512))
    assert keras_total(graph) == 11_019_530 + projections == 11_196_042
    # the summary's output shapes: stem, pool, then each stage's last block
    assert shapes(graph, ["1", "3", "stage1", "stage2", "stage3", "stage4", "10"]) == [
        "64x16x16", "64x8x8", "64x8x8", "128x4x4", "256x2x2", "512x1x1", "10"]
    keys = {e.key: e.shape for e in state_entries(graph)}
    assert keys["stage2.0.downsample.0.bias"] == (128,) and keys["stage1.0.conv1.bias"] == (64,)
    assert all(n.eps == 0.001 for n in graph.nodes() if n.op == "bn")


# --- seed 003: d2l's ResNet-18 and DenseNet ----------------------------------------------

def test_d2l_resnet18_matches_the_article():
    graph = archdsl.load(seed("d2l_resnet18"))
    expected = conv(1, 64, 7, True) + 2 * 64
    cin = 64
    for cout, first_block in [(64, True), (128, False), (256, False), (512, False)]:
        for i in range(2):
            projected = i == 0 and not first_block
            expected += conv(cin, cout, 3, True) + conv(cout, cout, 3, True) + 2 * 2 * cout
            expected += conv(cin, cout, 1, True) if projected else 0
            cin = cout
    expected += 512 * 10 + 10
    assert parameter_count(graph) == expected == 11_178_378
    keys = {e.key: e.shape for e in state_entries(graph)}
    assert keys["0.weight"] == (64, 1, 7, 7) and keys["1.running_mean"] == (64,)
    assert keys["resnet_block2.0.conv3.weight"] == (128, 64, 1, 1) and "resnet_block2.1.conv3.weight" not in keys
    assert keys["fc.1.weight"] == (10, 512)
    # the article prints the shapes for a 1x224x224 input
    big = archdsl.load(seed("d2l_resnet18"), input_size=(224, 224))
    assert shapes(big, ["0", "3", "resnet_block1", "resnet_block2", "resnet_block3", "resnet_block4",
                        "global_avg_pool", "fc.1"]) == [
        "64x112x112", "64x56x56", "64x56x56", "128x28x28", "256x14x14", "512x7x7", "512x1x1", "10"]


def test_d2l_densenet_matches_the_article():
    graph = archdsl.load(seed("d2l_densenet"))
    expected, channels = conv(1, 64, 7, True) + 2 * 64, 64
    for i in range(4):
        for _ in range(4):                                                 # conv_block: BN, ReLU, conv
            expected += 2 * channels + conv(channels, 32, 3, True)
            channels += 32
        if i < 3:                                                          # transition_block
            expected += 2 * channels + conv(channels, channels // 2, 1, True)
            channels //= 2
    expected += 2 * channels + channels * 10 + 10
    assert parameter_count(graph) == expected == 758_226
    # the article's printout for a 1x96x96 input
    assert shapes(graph, ["0", "3", "denseblock1", "transition1", "denseblock2", "transition2",
                          "denseblock3", "transition3", "denseblock4", "11", "13", "15"]) == [
        "64x48x48", "64x24x24", "192x24x24", "96x12x12", "224x12x12", "112x6x6",
        "240x6x6", "120x3x3", "248x3x3", "248x3x3", "248x1x1", "10"]


def test_d2l_dense_block_example():
    """The article's DenseBlock(2, 3, 10) on a 3x8x8 input gives 23 channels."""
    graph = archdsl.load("network t\ninput 3x8x8\nblk dense [2, [[10,3x3]]] bias=true out=23\n")
    assert str(graph.output_type) == "23x8x8"


# --- seed 004: Res2Net with SE ---------------------------------------------------------

def test_res2net50_se_matches_the_article():
    graph = archdsl.load(seed("res2net50_se"))
    expected, inplanes = conv(3, 64, 7, False) + 2 * 64, 64
    for i, blocks in enumerate([3, 4, 6, 3]):
        planes = 16 * 4 * 2 ** i                                        # width x scales x 2^i
        out, part, squeezed = 4 * planes, planes // 4, 4 * planes // 16
        for b in range(blocks):
            expected += conv(inplanes, planes, 1, True) + 2 * planes                  # conv1, bn1
            expected += 3 * (conv(part, part, 3, True) + 2 * part)                    # conv2[0..2], bn2
            expected += conv(planes, out, 1, True) + 2 * out                          # conv3, bn3
            expected += conv(out, squeezed, 1, True) + conv(squeezed, out, 1, True)   # SEModule
            if b == 0:
                expected += conv(inplanes, out, 1, True) + 2 * out                    # downsample
            inplanes = out
    expected += 2048 * 5 + 5
    assert parameter_count(graph) == expected == 16_877_669
    keys = {e.key: e.shape for e in state_entries(graph)}
    assert keys["layer1.0.convs.2.weight"] == (16, 16, 3, 3) and "layer1.0.convs.3.weight" not in keys
    assert keys["layer4.2.se.fc1.weight"] == (128, 2048, 1, 1) and keys["layer4.2.se.fc2.bias"] == (2048,)
    assert keys["layer2.0.downsample.0.bias"] == (512,) and "conv1.bias" not in keys
    nodes = {n.path: n for n in graph.nodes()}
    assert nodes["layer2.0.conv1"].stride == (2, 2) and nodes["layer2.0.convs.0"].stride == (1, 1)
    assert not any(n.op == "avgpool" for n in graph.nodes())  # no first-block pooling
    # y1 = x1: the first part goes straight into the concatenation
    cat = nodes["layer1.0.cat"]
    assert [graph[i].path for i in cat.inputs][0] == "layer1.0.split0"


def test_res2net50_se_outputs_probabilities():
    model = archdsl.build(seed("res2net50_se"), input_size=(64, 64)).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
    assert out.shape == (2, 5) and torch.allclose(out.sum(1), torch.ones(2))


@pytest.mark.parametrize("name", ["keras_resnext50", "keras_resnet18_cifar", "res2net50_se"])
def test_softmax_heads(name):
    graph = archdsl.load(seed(name))
    assert graph[graph.output.inputs[0]].op == "softmax"
