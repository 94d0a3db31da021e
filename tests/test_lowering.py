"""The torch back end: complete over the IR's ops, straight-line code, options that work."""

import torch

import archdsl
from archdsl.ir.nodes import NODE_TYPES
from archdsl.backends.torch.codegen import generated_code
from archdsl.backends.torch.ops import LOWERINGS
from conftest import spec_path

TINY = """
network tiny
input 3x16x16
param num_classes = 4
c1 conv 8 3x3 pad=1
b1 bn
r relu
residual block
  conv 8 3x3 pad=1
  bn
concat mix
  branch
    conv 4 1x1
  branch
    maxpool 3x3 /1 pad=1
global_avgpool
flatten
drop dropout 0.1
fc linear num_classes
"""


def test_every_ir_op_has_a_lowering():
    assert set(LOWERINGS) == set(NODE_TYPES)


def test_generated_forward_is_straight_line():
    model = archdsl.build(spec_path("resnet50"), init=False)
    code = generated_code(model)
    assert "for " not in code and "while " not in code
    assert code.count('self._modules["conv') == 1 + 16 * 3  # every conv called by name, in order
    assert code.count('self._modules["layer') == 4  # the stages, each a module with its own forward


def test_build_sets_parameters_and_names():
    model = archdsl.build(spec_path("resnet50"), num_classes=5)
    assert model.fc.weight.shape == (5, 2048)
    assert type(model).__name__ == "resnet50"


def test_tiny_spec_runs_and_trains():
    model = archdsl.build(TINY)
    out = model(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 4)
    out.sum().backward()
    assert model.c1.weight.grad is not None
    assert model.mix is not None and hasattr(model, "block")


def test_compile_option_wraps_in_torch_compile():
    model = archdsl.build(TINY, compile=True)
    assert hasattr(model, "_orig_mod")
    eager = model._orig_mod.eval()
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(model.eval()(x), eager(x), atol=1e-5)


def test_a_loaded_graph_keeps_its_parameters_and_input_size_when_built_with_more():
    graph = archdsl.load(spec_path("seeds/d2l_densenet"), growth=16)
    model = archdsl.build(graph, num_classes=7)  # growth stays 16
    again = archdsl.build(spec_path("seeds/d2l_densenet"), growth=16, num_classes=7)
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in again.state_dict().items()}
    # pad=same: an uneven 2/3 zero padding before the 7x7/2 stem conv at 32x32, an even one at 97x97
    assert "functional.pad(x, (2, 3, 2, 3))" in generated_code(archdsl.build(spec_path("seeds/keras_resnet18_cifar")))
    sized = archdsl.load(spec_path("seeds/keras_resnet18_cifar"), input_size=(97, 97))
    model = archdsl.build(sized, num_classes=3)
    assert "functional.pad" not in generated_code(model) and model.get_submodule("10").out_features == 3
