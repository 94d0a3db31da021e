"""The lowering's speed measures change nothing observable: in-place ReLUs and adds give the
same values and gradients as out-of-place ones, and `_modules` look-ups find the live modules."""

import copy
import io
import operator

import torch

import archdsl
from archdsl.backends.torch.codegen import forwards, generated_code
from archdsl.backends.torch.inplace import GUARDED, IN_PLACE
from conftest import SPECS, spec_path
from test_lowering import TINY

OUT_OF_PLACE = {fast: slow for slow, fast in IN_PLACE.items()}
UNGUARDED = {guarded: slow for slow, guarded in GUARDED.items()}


def out_of_place(model):
    """A copy of `model` whose graph uses no in-place op: the lowering before the in-place pass."""
    slow = copy.deepcopy(model)
    for _, unit in forwards(slow):
        for node in unit.graph.nodes:
            if node.target in UNGUARDED:
                node.target, node.args = UNGUARDED[node.target], node.args[:-1]
            node.target = OUT_OF_PLACE.get(node.target, node.target)
        unit.recompile()
    return slow


def forward_backward(model, x):
    torch.manual_seed(1)  # the same dropout masks for both
    x = x.clone().requires_grad_()
    out = model(x)
    out.square().sum().backward()
    return out.detach(), x.grad, {k: p.grad for k, p in model.named_parameters()}


def test_generated_code_overwrites_dead_tensors_and_reads_modules_directly():
    code = generated_code(archdsl.build(spec_path("resnet50"), init=False))
    assert "getattr(" not in code
    assert code.count("torch.relu_(") == 49 and "torch.relu(" not in code  # every relu of resnet50
    assert code.count(" += ") == 16  # one shortcut per block


def test_in_place_ops_change_no_value_or_gradient():
    for spec in (TINY, spec_path("resnet18"), SPECS / "seeds" / "res2net50_se.arch", SPECS / "seeds" / "d2l_densenet.arch"):
        torch.manual_seed(0)
        model = archdsl.build(spec, input_size=(32, 32)).train()
        slow = out_of_place(model)
        slow_code, code = generated_code(slow), generated_code(model)
        assert "torch.relu_(" not in slow_code and "unless_alias" not in slow_code and "torch.relu_(" in code
        x = torch.randn(2, archdsl.load(spec).input_type.channels, 32, 32)
        before = x.clone()
        fast_out, fast_dx, fast_grads = forward_backward(model, x)
        slow_out, slow_dx, slow_grads = forward_backward(slow, x)
        assert torch.equal(x, before)
        assert torch.equal(fast_out, slow_out) and torch.equal(fast_dx, slow_dx)
        assert all(torch.equal(fast_grads[k], slow_grads[k]) for k in slow_grads)


def test_a_tensor_read_twice_is_never_overwritten():
    model = archdsl.build(SPECS / "seeds" / "res2net50_se.arch", init=False)
    for node in (n for _, unit in forwards(model) for n in unit.graph.nodes):
        if node.target in OUT_OF_PLACE:
            overwritten = node.args[0]
            assert list(overwritten.users) == [node]
            assert overwritten.op != "placeholder"
            assert node.target is not operator.iadd or node.args[1] is not overwritten


def test_copies_and_pickles_keep_working_and_replaced_layers_are_used():
    model = archdsl.build(spec_path("resnet18")).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        expected = model(x)
        twin = copy.deepcopy(model)
        assert '_modules["layer1"]' in generated_code(twin) and torch.equal(twin(x), expected)
        buffer = io.BytesIO()
        torch.save(model, buffer)
        buffer.seek(0)
        assert torch.equal(torch.load(buffer, weights_only=False)(x), expected)
        model.fc = torch.nn.Identity()
        getattr(model.layer4, "1").conv2 = torch.nn.Identity()
        assert model(x).shape == (1, 512)


ALIASING = """
network aliasing
input 4x8x8
a conv 8 3x3 pad=1
n bn
r relu
b conv 8 3x3 pad=1
s concat from a, b
"""


@torch.no_grad()
def test_a_layer_replaced_by_identity_never_lets_an_in_place_op_overwrite_a_tensor_still_read():
    # `n` gets `a`, which the concat reads too; DenseNet's first norm of a unit gets the running
    # concatenation, which the next unit's concat reads too
    cases = [(ALIASING, (1, 4, 8, 8), "n"),
             (spec_path("densenet121"), (1, 3, 64, 64), "features.denseblock2.denselayer3.norm1")]
    for spec, shape, replaced in cases:
        model = archdsl.build(spec).eval()
        assert "relu_unless_alias(" in generated_code(model)
        slow = out_of_place(model)
        parent, _, leaf = replaced.rpartition(".")
        for m in (model, slow):
            setattr(m.get_submodule(parent), leaf, torch.nn.Identity())
        x = torch.randn(*shape)
        assert torch.equal(model(x), slow(x))
