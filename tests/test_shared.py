"""Shared weights: one block instance applied to several values (`NAME BLOCK ... shared=true from a, b, c`),
its state stored once, as torchvision's RetinaNet and FCOS heads apply one head to every FPN level.
Also the values named inside a scope or block instance, read after it as `NAME.inner`."""

import pytest
import torch
import torch.nn.functional as F

import archdsl
from archdsl.ir.printer import dump
from archdsl.ir.state import parameter_count, state_entries
from archdsl.ir.verify import VerificationError, verify
from archdsl.backends.summary.costs import node_macs, total_macs

HEAD = """network t
input 3x32x32

block cls_head classes
  scope conv
    conv input.channels 3x3 pad=1 bias=true
    relu
  logits conv classes 3x3 pad=1 bias=true

c1 conv 8 3x3 /2 pad=1
c2 conv 8 3x3 /2 pad=1
c3 conv {c3} 3x3 /2 pad=1
cls cls_head 5 shared=true from c1, c2, c3
output from cls.0, cls.1, cls.2
"""


def spec(c3: int = 8) -> str:
    return HEAD.format(c3=c3)


def test_the_ir_says_which_nodes_share_state():
    graph = archdsl.load(spec())
    verify(graph)
    convs = [n for n in graph.nodes() if n.path == "cls.conv.0"]
    logits = [n for n in graph.nodes() if n.path == "cls.logits"]
    assert len(convs) == len(logits) == 3
    assert [n.shares for n in convs] == [None, convs[0].id, convs[0].id]
    assert [n.shares for n in logits] == [None, logits[0].id, logits[0].id]
    assert f"shares=%{convs[0].id} @cls.conv.0 : 8x8x8" in dump(graph)
    assert [f.application for f in convs[2].origin] == [2, None]
    keys = [e.key for e in state_entries(graph)]
    assert keys == ["c1.weight", "c2.weight", "c3.weight", "cls.conv.0.weight", "cls.conv.0.bias",
                    "cls.logits.weight", "cls.logits.bias"]


def test_parameters_count_once_and_macs_per_application():
    graph = archdsl.load(spec())
    head = (8 * 8 * 9 + 8) + (5 * 8 * 9 + 5)
    assert parameter_count(graph) == 3 * 8 * 9 + 2 * 8 * 8 * 9 + head
    per_level = [node_macs(n, graph) for n in graph.nodes() if n.path == "cls.logits"]
    assert per_level == [5 * 8 * 9 * 16 * 16, 5 * 8 * 9 * 8 * 8, 5 * 8 * 9 * 4 * 4]
    assert total_macs(graph) == sum(node_macs(n, graph) for n in graph.nodes())


def test_the_verifier_refuses_a_node_sharing_another_layers_state():
    graph = archdsl.load(spec())
    node = next(n for n in graph.nodes() if n.path == "cls.logits" and n.shares is not None)
    conv = next(n for n in graph.nodes() if n.path == "cls.conv.0" and n.shares is None)
    graph.replace(node.model_copy(update={"shares": conv.id}))
    with pytest.raises(VerificationError, match="shares"):
        verify(graph)


def test_one_module_serves_every_value_and_computes_the_plain_heads():
    graph = archdsl.load(spec())
    model = archdsl.build(graph)
    assert sorted(model.state_dict()) == ["c1.weight", "c2.weight", "c3.weight", "cls.conv.0.bias",
                                          "cls.conv.0.weight", "cls.logits.bias", "cls.logits.weight"]
    assert model.code.count('self._modules["cls"](') == 3  # the head's unit, called once per level
    x = torch.randn(2, 3, 32, 32)
    outs = model(x)
    sd = model.state_dict()
    level = x
    for k, out in enumerate(outs):
        level = F.conv2d(level, sd[f"c{k + 1}.weight"], stride=2, padding=1)
        hidden = F.relu(F.conv2d(level, sd["cls.conv.0.weight"], sd["cls.conv.0.bias"], padding=1))
        assert torch.allclose(out, F.conv2d(hidden, sd["cls.logits.weight"], sd["cls.logits.bias"], padding=1),
                              atol=1e-6)


def close(a: torch.Tensor, b: torch.Tensor, tolerance: float) -> bool:
    """`a` equals `b` up to float rounding: ‖a − b‖ ≤ tolerance · ‖b‖ (summing in another order)."""
    return float((a - b).norm()) <= tolerance * float(b.norm())


def test_gradients_accumulate_over_the_applications():
    torch.manual_seed(0)
    model = archdsl.build(spec())
    x = torch.randn(2, 3, 32, 32)
    outs = model(x)
    weights = [model.get_parameter(k) for k in ("cls.conv.0.weight", "cls.logits.weight")]
    per_level = [torch.autograd.grad(out.square().sum(), weights, retain_graph=True) for out in outs]
    sum(out.square().sum() for out in outs).backward()
    for i, weight in enumerate(weights):
        assert close(weight.grad, sum(g[i] for g in per_level), 1e-6)
        assert all(g[i].abs().sum() > 0 for g in per_level)  # every level contributes
    # the same as a plain PyTorch head holding one copy of the weights, applied per level
    sd = {k: v.detach().clone().requires_grad_() for k, v in model.state_dict().items()}
    level, loss = x, 0
    for k in range(3):
        level = F.conv2d(level, sd[f"c{k + 1}.weight"], stride=2, padding=1)
        hidden = F.relu(F.conv2d(level, sd["cls.conv.0.weight"], sd["cls.conv.0.bias"], padding=1))
        loss = loss + F.conv2d(hidden, sd["cls.logits.weight"], sd["cls.logits.bias"], padding=1).square().sum()
    loss.backward()
    for key, value in sd.items():
        assert close(model.get_parameter(key).grad, value.grad, 1e-6), key


def test_a_value_that_does_not_fit_is_an_error_at_the_use():
    found = archdsl.check(spec(c3=4))
    assert [d.code for d in found] == ["E0230"]
    d = found[0]
    assert d.span.line == 13 and d.label == "builds other layers for `c3` than for `c1`"
    assert "`cls.conv.0` has weight 4x4x3x3, bias 4 here, weight 8x8x3x3, bias 8 for `c1`" in d.help


def test_an_error_in_one_application_is_noted_at_the_use():
    text = spec().replace("  logits conv classes 3x3 pad=1 bias=true",
                          "  require input.height >= 8\n  logits conv classes 3x3 pad=1 bias=true")
    found = archdsl.check(text)
    assert [d.code for d in found] == ["E0224"] and found[0].span.line == 14


@pytest.mark.parametrize("option, message", [
    ("repeat=2", "a shared use applies one instance to each value"),
    ("shared=maybe", "shared"),
])
def test_bad_shared_uses(option, message):
    found = archdsl.check(spec().replace("shared=true", f"shared=true {option}" if "repeat" in option else option))
    assert found and found[0].code in ("E0206", "E0209") and message in found[0].message
    assert found[0].span.line == 13


def test_a_use_from_several_values_without_shared_suggests_it():
    found = archdsl.check(spec().replace(" shared=true", ""))
    assert [d.code for d in found] == ["E0206"] and "shared=true" in found[0].help
    assert (found[0].span.line, found[0].span.col) == (13, 25)  # at `c2`, the value one too many


def test_a_scopes_values_are_read_after_it_by_their_dotted_names():
    graph = archdsl.load("""network t
input 3x32x32
scope body
  c1 conv 8 3x3 /2 pad=1
  c2 conv 8 3x3 /2 pad=1
  scope deep
    c3 conv 8 3x3 /2 pad=1
up upsample scale=2 from body.deep.c3
s add from up, body.c2
output from body.c1, s
""")
    add = next(n for n in graph.nodes() if n.op == "add")
    assert [graph[i].path for i in add.inputs] == ["up", "body.c2"]
    assert graph.output_names == ["body.c1", "s"]
    found = archdsl.check("network t\ninput 3x8x8\nscope body\n  c1 conv 8 3x3\nx relu from body.c2\n")
    assert [d.code for d in found] == ["E0204"] and "body.c1" in found[0].help


def test_the_diagram_draws_a_shared_head_once_with_an_edge_from_each_value():
    from archdsl.backends.diagram.view import build_view

    view = build_view(archdsl.load(spec()), "layer")
    titles = [box.title for box in view.boxes()]
    assert titles.count("conv.0") == titles.count("logits") == 1
    ids = {box.title: box.id for box in view.boxes()}
    into_head = sorted(e.label for e in view.edges if e.target == ids["conv.0"])
    assert into_head == ["8x16x16", "8x4x4", "8x8x8"]
    assert {e.source for e in view.edges if e.target == ids["conv.0"]} == {ids["c1"], ids["c2"], ids["c3"]}
    out_of_head = [(e.target, e.label) for e in view.edges if e.source == ids["logits"]]
    assert out_of_head == [(ids["cls.0"], "5x16x16"), (ids["cls.1"], "5x8x8"), (ids["cls.2"], "5x4x4")]
    cluster = next(item for item in view.items if getattr(item, "title", "") == "cls")
    assert cluster.text == "cls_head, shared by 3"


def test_the_summary_counts_the_parameters_once_and_the_macs_of_every_application():
    from archdsl.backends.summary.table import summarize

    graph = archdsl.load(spec())
    row = next(r for r in summarize(graph, "block").rows if r.path == "cls")
    assert row.op == "cls_head, shared by 3" and row.params == (8 * 8 * 9 + 8) + (5 * 8 * 9 + 5)
    assert row.macs == sum(node_macs(n, graph) for n in graph.nodes() if n.path.startswith("cls."))
    assert row.macs == (8 * 8 * 9 + 5 * 8 * 9) * (16 * 16 + 8 * 8 + 4 * 4)


def test_a_layer_built_otherwise_for_one_value_is_named():
    text = spec().replace("  logits conv classes 3x3 pad=1 bias=true",
                          "  logits conv classes 3x3 pad=same /2 bias=true")
    found = archdsl.check(text.replace("c3 conv 8 3x3 /2 pad=1", "c3 conv 8 3x3 /3 pad=1"))
    assert [d.code for d in found] == ["E0230"]
    assert found[0].help.startswith("`cls.logits` has padding=")


@pytest.mark.parametrize("condition, help", [
    ("input.height > 4", "`c3` builds `cls.logits` where `c1` builds `cls.extra`"),  # c3 (4x4) leaves it out
    ("input.height < 16", "`c2` builds `cls.extra` where `c1` builds `cls.logits`"),  # c2 alone builds it
])
def test_an_application_that_builds_more_or_fewer_layers_is_an_error(condition, help):
    text = spec().replace("  logits conv classes 3x3 pad=1 bias=true",
                          f"  if {condition}\n    extra conv input.channels 1x1\n  logits conv classes 3x3 pad=1 bias=true")
    found = archdsl.check(text)
    assert [d.code for d in found] == ["E0230"] and found[0].help.startswith(help)


def test_a_shared_block_leaves_the_values_it_is_applied_to_as_they_are():
    graph = archdsl.load("""network t
input 3x16x16
block act_head
  relu
  conv 4 3x3 pad=1 bias=true
c1 conv 4 3x3 pad=1
c2 conv 4 3x3 /2 pad=1 from c1
h act_head shared=true from c1, c2
output from c1, c2, h.0, h.1
""")
    model = archdsl.build(graph).eval()
    x = torch.randn(2, 3, 16, 16)
    c1, c2, h0, h1 = model(x)
    sd = model.state_dict()
    expected_c1 = F.conv2d(x, sd["c1.weight"], padding=1)
    expected_c2 = F.conv2d(expected_c1, sd["c2.weight"], stride=2, padding=1)
    assert torch.equal(c1, expected_c1) and torch.equal(c2, expected_c2)  # not overwritten by the relu
    for level, out in ((expected_c1, h0), (expected_c2, h1)):
        assert torch.allclose(out, F.conv2d(F.relu(level), sd["h.1.weight"], sd["h.1.bias"], padding=1), atol=1e-6)
