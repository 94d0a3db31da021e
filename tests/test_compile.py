"""torch.compile traces every bundled spec as one graph, with no graph break.

`torch._dynamo.explain` costs about 10 ms per traced layer on the 2-core test machine: all
bundled specs at full depth take ~50 s. A stage's third and later blocks run exactly the code
of its second block, so each spec is explained with its stage rows cut to two blocks, after
checking that the cut network's forward is made of the very same statements (op, callee,
constant arguments) as the full network's. No inductor code is generated: explain only.
"""

import re

import pytest
import torch
from torch import fx

import archdsl
from archdsl.diagnostics import Source
from conftest import SPECS, bundled_specs

ROW_REPEAT = re.compile(r"\[\s*(\d+)\s*,(?=\s*\[\[)")  # `layer3 [36, [[...` -> `layer3 [2, [[...`


def cut_to_two_blocks(path) -> Source:
    text = path.read_text()
    return Source(str(path), ROW_REPEAT.sub(lambda m: f"[{min(int(m[1]), 2)},", text))


def statement_forms(model: fx.GraphModule) -> set:
    """What each line of the forward does, without which tensors it reads."""
    forms = set()
    for node in model.graph.nodes:
        callee = type(model.get_submodule(node.target)).__name__ if node.op == "call_module" else str(node.target)
        constants = fx.node.map_arg((node.args, node.kwargs), lambda _: "tensor")
        forms.add((node.op, callee, repr(constants)))
    return forms


def explain(model, graph) -> "torch._dynamo.backends.debugging.ExplainOutput":
    t = graph.input_type
    torch._dynamo.reset()
    return torch._dynamo.explain(model)(torch.randn(2, t.channels, t.height, t.width))


@pytest.mark.parametrize("path", bundled_specs(), ids=lambda p: str(p.relative_to(SPECS).with_suffix("")))
def test_every_spec_compiles_without_graph_breaks(path):
    with torch.device("meta"):
        full = archdsl.build(path, init=False)
    graph = archdsl.load(cut_to_two_blocks(path))
    cut = archdsl.build(graph, init=False).eval()
    assert statement_forms(cut) == statement_forms(full)
    explanation = explain(cut, graph)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1


@pytest.mark.parametrize("name", ["seeds/res2net50_se", "densenet121"])
def test_training_mode_compiles_without_graph_breaks(name):
    graph = archdsl.load(cut_to_two_blocks(SPECS / f"{name}.arch"))
    explanation = explain(archdsl.build(graph, init=False).train(), graph)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1


@pytest.mark.parametrize("name", ["resnet18", "seeds/d2l_densenet"])
def test_torch_export_captures_the_whole_forward(name):
    graph = archdsl.load(cut_to_two_blocks(SPECS / f"{name}.arch"), input_size=(32, 32))
    model = archdsl.build(graph).eval()
    x = torch.randn(2, graph.input_type.channels, 32, 32)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        assert torch.allclose(exported.module()(x), model(x), rtol=1e-5, atol=1e-6)
