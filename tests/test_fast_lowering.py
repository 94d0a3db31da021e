"""The lowering's speed measures change nothing observable: in-place activations and adds give the
same values and gradients as out-of-place ones, `_modules` look-ups find the live modules, and
per-position layers run on one channels-last tensor with the values torchvision's layout gives."""

import copy
import io
import operator

import torch

import archdsl
from archdsl.backends.torch.codegen import forwards, generated_code
from archdsl.backends.torch.inplace import GUARDED, IN_PLACE, PASS_THROUGH
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
            node.kwargs = {k: v for k, v in node.kwargs.items() if k != "inplace"}
        unit.recompile()
    return slow


def overwrites(code: str) -> int:
    """How many in-place ops the generated `code` makes."""
    return sum(code.count(form) for form in ("torch.relu_(", "torch.sigmoid_(", "inplace = True", " += "))


#: every activation with an in-place form, after a norm, in an SE gate and after dropout and
#: stochastic depth that lead into adds
ACTIVATIONS = """
network activations
input 4x8x8
a conv 8 3x3 pad=1
an bn
ar relu6
b conv 8 3x3 pad=1
bn bn
bh hardswish
c conv 8 3x3 pad=1
cn bn
cs silu
pool global_avgpool
fc1 conv 4 1x1 bias=true
fa mish
fc2 conv 8 1x1 bias=true
gate sigmoid
se mul from cs, gate
d conv 8 3x3 pad=1
dn bn
dd stochastic_depth 0.5
da add from cs, dd
e conv 8 3x3 pad=1
en bn
ed dropout 0.5
eh hardsigmoid
ea add from da, eh
"""

#: tensors read twice: through dropout and stochastic depth, which at inference hand on their
#: input itself, and directly (`c`); no op may overwrite them
SHARED = """
network shared
input 4x8x8
a conv 8 3x3 pad=1
n bn
d stochastic_depth 0.5
s add from d, a
h dropout 0.5
g silu
c conv 8 1x1
k relu6
r hardswish from c
t concat from s, k, r, n
"""


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
    assert "getattr(" not in generated_code(archdsl.build("regnet_y_400mf", init=False))  # quoted names ("block1-0") too


def test_activations_work_in_place_as_torchvision_writes_them():
    mobilenet = generated_code(archdsl.build(spec_path("mobilenet_v2"), init=False))
    assert mobilenet.count("relu6(") == mobilenet.count("inplace = True") == 35
    efficientnet = generated_code(archdsl.build("efficientnet_b0", init=False))
    assert efficientnet.count("silu(") == efficientnet.count("inplace = True") == 49
    # after stochastic depth, as `result += input`; checked at run time where the block (a module of
    # its own, which a user may replace by nn.Identity) is handed the input the add reads too
    assert in_place_adds(efficientnet) == 9
    assert in_place_adds(generated_code(archdsl.build("convnext_tiny", init=False))) == 18


def in_place_adds(code: str) -> int:
    return code.count(" += ") + code.count("add_unless_alias(")


def test_in_place_ops_change_no_value_or_gradient():
    for spec in (TINY, spec_path("resnet18"), SPECS / "seeds" / "res2net50_se.arch", SPECS / "seeds" / "d2l_densenet.arch",
                 ACTIVATIONS, spec_path("mobilenet_v2")):
        torch.manual_seed(0)
        model = archdsl.build(spec, input_size=(32, 32)).train()
        slow = out_of_place(model)
        slow_code, code = generated_code(slow), generated_code(model)
        assert overwrites(slow_code) == 0 and "unless_alias" not in slow_code and overwrites(code) > 0
        x = torch.randn(2, archdsl.load(spec).input_type.channels, 32, 32)
        before = x.clone()
        fast_out, fast_dx, fast_grads = forward_backward(model, x)
        slow_out, slow_dx, slow_grads = forward_backward(slow, x)
        assert torch.equal(x, before)
        assert torch.equal(fast_out, slow_out) and torch.equal(fast_dx, slow_dx)
        assert all(torch.equal(fast_grads[k], slow_grads[k]) for k in slow_grads)


@torch.no_grad()
def test_no_op_overwrites_a_tensor_still_to_be_read_at_inference():
    for spec in (ACTIVATIONS, SHARED):
        model = archdsl.build(spec).eval()  # at inference both return their input itself
        x = torch.randn(2, 4, 8, 8)
        assert torch.equal(model(x), out_of_place(model)(x))
    assert overwrites(generated_code(archdsl.build(SHARED))) == 0


def test_a_tensor_read_twice_is_never_overwritten():
    for spec in (SPECS / "seeds" / "res2net50_se.arch", "efficientnet_b0", ACTIVATIONS, SHARED):
        model = archdsl.build(spec, init=False)
        for _, unit in forwards(model):
            for node in unit.graph.nodes:
                if node.target in OUT_OF_PLACE or node.kwargs.get("inplace"):
                    assert node.target is not operator.iadd or node.args[1] is not node.args[0]
                    _assert_private(unit, node.args[0], node)


def _assert_private(unit, overwritten, reader):
    """`overwritten`, and what it is at inference through dropout and stochastic depth, is read by its next op only."""
    assert list(overwritten.users) == [reader] and overwritten.op != "placeholder"
    if overwritten.op == "call_module" and isinstance(unit.get_submodule(overwritten.target), PASS_THROUGH):
        _assert_private(unit, overwritten.args[0], overwritten)


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
# as ALIASING, with an activation that has no checked in-place form: it stays out of place
ALIASING_SILU = ALIASING.replace("r relu", "r silu")


@torch.no_grad()
def test_a_layer_replaced_by_identity_never_lets_an_in_place_op_overwrite_a_tensor_still_read():
    # `n` gets `a`, which the concat reads too; DenseNet's first norm of a unit gets the running
    # concatenation, which the next unit's concat reads too
    cases = [(ALIASING, (1, 4, 8, 8), "n"), (ALIASING_SILU, (1, 4, 8, 8), "n"),
             (spec_path("densenet121"), (1, 3, 64, 64), "features.denseblock2.denselayer3.norm1")]
    for spec, shape, replaced in cases:
        model = archdsl.build(spec).eval()
        code = generated_code(model)
        assert "relu_unless_alias(" in code or "silu(n)" in code
        slow = out_of_place(model)
        parent, _, leaf = replaced.rpartition(".")
        for m in (model, slow):
            setattr(m.get_submodule(parent), leaf, torch.nn.Identity())
        x = torch.randn(*shape)
        assert torch.equal(model(x), slow(x))


#: ConvNeXt's per-position run, with a softmax (over the channels, so not elementwise) after it
PER_POSITION = """
network per_position
input 8x4x4
n layernorm eps=1e-6
a position_linear 16
g gelu
b position_linear 8
c position_linear 8
s softmax
d position_linear 8
"""


class ChannelsLast(torch.nn.Module):
    """PER_POSITION written as torchvision writes a ConvNeXt block: one permute to channels-last,
    the layers on that tensor, one permute back."""

    def __init__(self):
        super().__init__()
        self.n = torch.nn.LayerNorm(8, eps=1e-6)
        self.a, self.b, self.c, self.d = (torch.nn.Linear(i, o) for i, o in ((8, 16), (16, 8), (8, 8), (8, 8)))

    def forward(self, x):
        x = self.b(torch.nn.functional.gelu(self.a(self.n(x.permute(0, 2, 3, 1)))))
        return self.d(torch.softmax(self.c(x), dim=-1)).permute(0, 3, 1, 2)


@torch.no_grad()
def test_per_position_layers_and_the_activations_between_them_run_channels_last_as_torchvision_does():
    model = archdsl.build(PER_POSITION).eval()
    hand = ChannelsLast().eval()
    hand.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 8, 4, 4)
    assert torch.allclose(model(x), hand(x), rtol=0, atol=1e-6)  # the softmax is over the channels
    # up to the softmax, the very bits of torchvision's layout (GELU on a channels-first view differs)
    up_to_softmax = archdsl.build(PER_POSITION.split("c position_linear")[0]).eval()
    up_to_softmax.load_state_dict({k: v for k, v in model.state_dict().items() if k[0] in "nab"})
    assert torch.equal(up_to_softmax(x), hand.b(torch.nn.functional.gelu(hand.a(hand.n(x.permute(0, 2, 3, 1)))))
                       .permute(0, 3, 1, 2))
    assert generated_code(archdsl.build("convnext_tiny", init=False)).count(".permute(") == 46  # torchvision's 18 x 2 + 5 x 2
