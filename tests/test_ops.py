"""The op layer: every op is complete in every back end, and each new op computes what torch does."""

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

import archdsl
from archdsl.diagnostics import Source
from archdsl.ir import nodes as N
from archdsl.ir.ops.base import MissingRule, NodeBase, missing_rules
from archdsl.ir.state import state_entries
from archdsl.ir.verify import verify
from archdsl.semantics.ops import OPS
from archdsl.backends.diagram.style import FAMILY, LEGEND
from archdsl.backends.summary.costs import node_macs, node_other_flops, total_macs
from archdsl.backends.torch.ops import LOWERINGS, torch_function

#: ops the builder makes itself, not layer statements (`scalar`: what `mul 0.5`, `add 1` make;
#: `pad`: what `zeropad h=(0, 1)` makes, zeros along named axes)
NOT_STATEMENTS = {"input", "output", "slice", "scalar", "pad"}
ENDPOINTS = {"input", "output"}


# --- completeness, one test per back end --------------------------------------------------

@pytest.mark.parametrize("op", sorted(N.NODE_TYPES))
def test_every_op_gives_every_ir_rule(op):
    assert missing_rules(N.NODE_TYPES[op]) == []


def test_a_class_without_rules_is_caught():
    class Half(NodeBase):  # no `op`: not registered
        def infer(self, inputs):
            return inputs[0], []

    assert missing_rules(Half) == ["state", "macs", "other_flops"]
    with pytest.raises(MissingRule):
        Half(id=0, path="x").macs([])


def test_every_op_has_a_torch_lowering():
    assert set(LOWERINGS) == set(N.NODE_TYPES)


def test_every_op_but_the_endpoints_has_a_diagram_family():
    for op in set(N.NODE_TYPES) - ENDPOINTS:
        assert FAMILY.get(op) in LEGEND, op


def test_every_op_but_the_builders_own_has_surface_syntax():
    assert set(N.NODE_TYPES) - NOT_STATEMENTS <= set(OPS)
    assert set(OPS) <= set(N.NODE_TYPES)


def test_every_activation_names_a_torch_function():
    for name, activation in N.ACTIVATIONS.items():
        assert callable(torch_function(activation.torch)), name


def test_the_registry_is_the_union():
    assert N.NODE_TYPES["gelu"] is N.ACTIVATION_NODES["gelu"]
    assert N.NODE_TYPES["layernorm"] is N.LayerNorm and N.ARITY["add"][0] == 2 and N.ARITY["input"] == (0, 0)


# --- each op against torch ------------------------------------------------------------------

def build(body: str, input_type: str = "4x8x8"):
    graph = archdsl.load(f"network t\ninput {input_type}\n{body}")
    verify(graph)
    return graph, archdsl.build(graph)


def run(body: str, input_type: str = "4x8x8", batch: int = 2, seed: int = 0):
    graph, model = build(body, input_type)
    torch.manual_seed(seed)
    x = torch.randn(batch, *[int(v) for v in input_type.split("x")])
    model.eval()
    out = model(x)
    t = graph[graph.output.inputs[0]].type
    assert tuple(out.shape[1:]) == t.shape
    return x, out, model


ACTIVATION_CASES = [
    ("relu", torch.relu), ("sigmoid", torch.sigmoid), ("exp", torch.exp), ("softmax", lambda x: torch.softmax(x, 1)),
    ("relu6", F.relu6), ("hardswish", F.hardswish), ("hardsigmoid", F.hardsigmoid), ("silu", F.silu),
    ("gelu", F.gelu), ("gelu approximate=tanh", lambda x: F.gelu(x, approximate="tanh")),
    ("leaky_relu", F.leaky_relu), ("leaky_relu slope=0.2", lambda x: F.leaky_relu(x, 0.2)),
    ("tanh", torch.tanh), ("elu", F.elu), ("elu alpha=0.5", lambda x: F.elu(x, 0.5)), ("mish", F.mish),
]


@pytest.mark.parametrize("statement, fn", ACTIVATION_CASES, ids=[c[0] for c in ACTIVATION_CASES])
def test_activation_is_torchs(statement, fn):
    x, out, _ = run(f"a {statement}\n")
    assert torch.equal(out, fn(x))


def test_every_activation_is_tested():
    # softmax is an op over an axis (the channels of an image, as here), tested with the activations
    assert {s.split()[0] for s, _ in ACTIVATION_CASES} == set(N.ACTIVATIONS) | {"softmax"}


def test_relu_still_runs_in_place_after_a_conv():
    _, model = build("c conv 8 3x3\nr relu\n")
    assert "relu_" in model.code


def test_layernorm_on_an_image_is_convnexts_layernorm2d():
    x, out, model = run("ln layernorm eps=1e-6\n")
    w, b = model.ln.weight, model.ln.bias
    torch.nn.init.normal_(w), torch.nn.init.normal_(b)
    out = model(x)
    expected = F.layer_norm(x.permute(0, 2, 3, 1), (4,), w, b, 1e-6).permute(0, 3, 1, 2)
    assert torch.equal(out, expected) and sorted(model.state_dict()) == ["ln.bias", "ln.weight"]


def test_layernorm_on_a_flat_vector_is_over_its_features():
    x, out, model = run("global_avgpool\nf flatten\nln layernorm\n", "6x2x2")
    assert torch.equal(out, F.layer_norm(x.mean((2, 3)), (6,), model.ln.weight, model.ln.bias))


def test_groupnorm_is_torchs():
    x, out, model = run("g groupnorm 2 eps=1e-3\n")
    assert torch.equal(out, F.group_norm(x, 2, model.g.weight, model.g.bias, 1e-3))
    assert model.g.weight.shape == (4,)


def test_frozen_bn_is_torchvisions_frozen_batch_norm():
    graph, model = build("f frozen_bn eps=1e-3\n")
    assert [(e.key, e.shape, e.trainable) for e in state_entries(graph)] == [
        (f"f.{k}", (4,), False) for k in ("weight", "bias", "running_mean", "running_var")]
    assert list(model.parameters()) == [] and "f.num_batches_tracked" not in model.state_dict()
    for key, value in model.state_dict().items():
        torch.nn.init.uniform_(value, 0.5, 1.5)
    x = torch.randn(2, 4, 8, 8)
    f = model.f
    scale = f.weight.reshape(1, -1, 1, 1) * (f.running_var.reshape(1, -1, 1, 1) + 1e-3).rsqrt()
    expected = x * scale + (f.bias.reshape(1, -1, 1, 1) - f.running_mean.reshape(1, -1, 1, 1) * scale)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    assert torch.equal(model(x), expected)  # training mode changes nothing: the statistics are fixed
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    eval_bn = F.batch_norm(x, f.running_mean, f.running_var, f.weight, f.bias, False, 0.0, 1e-3)
    assert torch.allclose(expected, eval_bn, atol=1e-5)


def test_a_batch_norm_checkpoint_loads_into_a_frozen_bn():
    _, plain = build("f bn\n")
    _, frozen = build("f frozen_bn\n")
    state = plain.state_dict()
    assert "f.num_batches_tracked" in state
    frozen.load_state_dict(state, strict=True)


def test_frozen_bn_as_the_norm_of_a_stage():
    graph, model = build("stages bottleneck norm=frozen_bn\n  layer1 [2, [[4,1x1],[4,3x3],[8,1x1]]]\n")
    norms = [n for n in graph.nodes() if n.op in ("bn", "frozen_bn")]
    assert {n.op for n in norms} == {"frozen_bn"} and len(norms) == 7  # 3 per block, and the projection's
    assert not [k for k in model.state_dict() if "num_batches_tracked" in k]
    assert sum(p.numel() for p in model.parameters()) == sum(
        e.numel for e in state_entries(graph) if e.trainable) == (4 * 4 + 4 * 4 * 9 + 4 * 8 + 4 * 8) + (8 * 4 + 4 * 4 * 9 + 4 * 8)
    # the convs' weights only: conv1, conv2, conv3 and the projection of the first block, then the second


def test_position_linear_is_convnexts_permute_linear_permute():
    x, out, model = run("pl position_linear 6\n")
    assert model.pl.weight.shape == (6, 4) and model.pl.bias.shape == (6,)
    expected = F.linear(x.permute(0, 2, 3, 1), model.pl.weight, model.pl.bias).permute(0, 3, 1, 2)
    assert torch.equal(out, expected) and out.shape == (2, 6, 8, 8)


def test_layer_scale_is_a_parameter_at_its_own_path():
    graph, model = build("scope features\n  scope stage\n    scope block\n      layer_scale layer_scale init=0.5\n")
    key = "features.stage.block.layer_scale"
    assert [e.key for e in state_entries(graph)] == [key]
    state = model.state_dict()
    assert list(state) == [key] and state[key].shape == (4, 1, 1)
    x = torch.randn(2, 4, 8, 8)
    assert torch.equal(model(x), 0.5 * x)
    model(x).sum().backward()
    assert model.get_parameter(key).grad is not None


def _reference_stochastic_depth(x, p, mode):
    """torchvision.ops.stochastic_depth's documented semantics, written out for the test."""
    size = [x.shape[0]] + [1] * (x.ndim - 1) if mode == "row" else [1] * x.ndim
    noise = torch.empty(size).bernoulli_(1 - p)
    return x * (noise / (1 - p) if p < 1 else noise)


@pytest.mark.parametrize("mode", ["row", "batch"])
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_stochastic_depth_is_torchvisions(mode, p):
    _, model = build(f"sd stochastic_depth {p} mode={mode}\n")
    x = torch.randn(16, 4, 8, 8)
    model.eval()
    assert torch.equal(model(x), x)
    model.train()
    torch.manual_seed(3)
    out = model(x)
    torch.manual_seed(3)
    expected = x if p == 0.0 else _reference_stochastic_depth(x, p, mode)
    assert torch.equal(out, expected)
    assert model.state_dict() == {}


@pytest.mark.parametrize("op, fn", [("adaptive_avgpool", F.adaptive_avg_pool2d),
                                    ("adaptive_maxpool", F.adaptive_max_pool2d)])
@pytest.mark.parametrize("size, expected", [("3", (3, 3)), ("2x5", (2, 5)), ("12", (12, 12))])
def test_adaptive_pools_are_torchs(op, fn, size, expected):
    x, out, _ = run(f"p {op} {size}\n", "4x7x9")
    assert torch.equal(out, fn(x, expected))


@pytest.mark.parametrize("options, kwargs", [
    ("scale=2", dict(scale_factor=2.0)), ("scale=1.5", dict(scale_factor=1.5)),
    ("size=5x11", dict(size=(5, 11))), ("scale=2 mode=bilinear", dict(scale_factor=2.0, mode="bilinear")),
    ("scale=1.7 mode=bilinear align_corners=true", dict(scale_factor=1.7, mode="bilinear", align_corners=True)),
])
def test_upsample_size_and_values_are_interpolates(options, kwargs):
    x, out, _ = run(f"u upsample {options}\n", "3x7x9")
    assert torch.equal(out, F.interpolate(x, **kwargs))


@pytest.mark.parametrize("statement", [
    "deconv 6 2x2 /2", "deconv 6 3x3 /2 pad=1 output_pad=1", "deconv 6 4x4 /2 pad=1 bias=true",
    "deconv 8 3x3 /3 groups=2 dilation=2 output_pad=2", "deconv 6 1x1",
])
def test_deconv_is_conv_transpose2d(statement):
    x, out, model = run(f"d {statement}\n", "4x5x7")
    d = model.d
    assert torch.equal(out, F.conv_transpose2d(x, d.weight, d.bias, d.stride, d.padding, d.output_padding,
                                               d.groups, d.dilation))


def test_deconv_state_is_in_by_out_over_groups():
    graph, model = build("d deconv 8 3x3 /2 groups=2 bias=true\n")
    keys = {e.key: e.shape for e in state_entries(graph)}
    assert keys == {"d.weight": (4, 4, 3, 3), "d.bias": (8,)}
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == keys


def test_shuffle_is_shufflenets_channel_shuffle():
    x, out, _ = run("s shuffle 2\n")
    b, c, h, w = x.shape
    expected = x.view(b, 2, c // 2, h, w).transpose(1, 2).reshape(b, c, h, w)
    assert torch.equal(out, expected)
    assert torch.equal(out[:, 1], x[:, 2])


def test_every_new_op_runs_backward_at_batch_one():
    body = ("a gelu\nln layernorm\ng groupnorm 2\npl position_linear 6\nls layer_scale\nsd stochastic_depth 0.5\n"
            "u upsample scale=2\nd deconv 4 2x2 /2\ns shuffle 2\np adaptive_avgpool 3\nflatten\nlinear 3\n")
    graph, model = build(body)
    model.train()
    out = model(torch.randn(1, 4, 8, 8))
    assert out.shape == (1, 3)
    out.sum().backward()


# --- costs ---------------------------------------------------------------------------------

def _counted_macs(model, input_shape) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        model(torch.randn(1, *input_shape))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("body, shape", [
    ("pl position_linear 12\n", (4, 6, 5)),
    ("pl position_linear 3 bias=false\n", (8, 7, 7)),
    ("d deconv 6 3x3 /2 pad=1 output_pad=1\n", (4, 5, 7)),
    ("d deconv 8 2x2 /2 groups=2 bias=true\n", (4, 6, 6)),
])
def test_macs_are_flop_counters(body, shape):
    graph, model = build(body, "x".join(map(str, shape)))
    model.eval()
    ours = total_macs(graph)
    assert ours > 0 and ours == _counted_macs(model, shape)


def test_new_ops_count_their_flops():
    graph, _ = build("a gelu\nln layernorm\nu upsample scale=2 mode=bilinear\ns shuffle 2\n")
    flops = {n.path: node_other_flops(n, graph) for n in graph.nodes()}
    assert flops["a"] == 4 * 256 and flops["ln"] == 5 * 256 and flops["u"] == 7 * 1024 and flops["s"] == 0
    assert all(node_macs(n, graph) == 0 for n in graph.nodes())


# --- type rules and diagnostics ---------------------------------------------------------------

def problems(body: str, input_type: str = "4x8x8"):
    return archdsl.check(f"network t\ninput {input_type}\n{body}")


def only(body: str, input_type: str = "4x8x8"):
    found = problems(body, input_type)
    assert len(found) == 1, [(d.code, d.message) for d in found]
    return found[0]


@pytest.mark.parametrize("body, code, text", [
    ("bn eps=0\n", "E0311", "bn eps must be positive"),
    ("ln layernorm eps=0\n", "E0311", "layernorm eps must be positive"),
    ("g groupnorm 2 eps=0\n", "E0311", "constant input divides by zero"),
    ("f frozen_bn 5\n", "E0303", "frozen_bn declares 5 input channels"),
    ("stages basic norm=frozen\n  layer1 [1, [[4,3x3],[4,3x3]]]\n", "E0209", "frozen_bn"),
    ("g groupnorm 3\n", "E0304", "group counts that divide it: 2, 4"),
    ("s shuffle 3\n", "E0304", "groups=3 does not divide the channels (4)"),
    ("d deconv 4 3x3 /2 output_pad=2\n", "E0312", "output_pad=2 must be smaller"),
    ("d deconv 4 3x3 pad=5\n", "E0306", "deconv leaves no output"),
    ("d deconv 6 3x3 groups=4\n", "E0304", "groups=4 does not divide the output channels (6)"),
    ("u upsample scale=2 align_corners=true\n", "E0202", "align_corners"),
    ("u upsample scale=2 size=4\n", "E0202", "both set the output size"),
    ("u upsample\n", "E0207", "needs a scale or a size"),
    ("u upsample scale=0\n", "E0209", "above 0"),
    ("u upsample scale=2 mode=bicubic\n", "E0209", "nearest, bilinear"),
    ("a gelu approximate=fast\n", "E0209", "none, tanh"),
    ("a relu slope=1\n", "E0203", "relu has no option `slope`"),
    ("sd stochastic_depth 1.5\n", "E0209", "at most 1"),
    ("sd stochastic_depth 0.1 mode=col\n", "E0209", "row, batch"),
    ("global_avgpool\nflatten\nls layer_scale\n", "E0305", "layer_scale needs an image"),
    ("global_avgpool\nflatten\npl position_linear 4\n", "E0305", "position_linear needs an image"),
    ("global_avgpool\nflatten\np adaptive_avgpool 2\n", "E0305", "adaptive_avgpool needs an image"),
    ("p adaptive_maxpool 0\n", "E0209", "at least 1"),
])
def test_bad_uses_are_diagnosed(body, code, text):
    d = only(body)
    assert d.code == code and text in d.message + " " + d.help, (d.message, d.help)
    assert d.span is not None and d.span.line >= 3


def test_bn_eps_zero_from_a_block_option_is_refused_too():
    found = problems("stages basic eps=0\n  layer1 [1, [[4,3x3],[4,3x3]]]\n")
    assert found and {d.code for d in found} == {"E0311"}


def test_flat_vector_times_a_gate_is_refused():
    # issue 15 item 1: this checked clean as `3` and built a model returning [N, 4, N, 3]
    d = only("g global_avgpool\nf flatten from g\nm mul from f, g\nlinear 3\n")
    assert d.code == "E0308" and "flat vector and an image" in d.help


def test_an_image_times_a_flat_vector_is_refused():
    d = only("g global_avgpool\nf flatten from g\nm mul from input, f\n")
    assert d.code == "E0308"


def test_mul_of_two_flat_vectors_and_an_image_by_its_gate_still_check():
    assert problems("g global_avgpool\nf flatten from g\nm mul from f, f\n") == []
    assert problems("g global_avgpool\nm mul from input, g\n") == []


def test_the_upsample_rule_is_interpolates_for_many_sizes():
    for h in range(1, 12):
        for scale in (0.5, 1.3, 2.0, 2.5, 3.0):
            try:
                expected = F.interpolate(torch.zeros(1, 1, h, h + 1), scale_factor=scale).shape[2:]
            except RuntimeError:  # torch refuses an empty output; so does the rule
                t, issues = N.Upsample(id=1, path="u", scale=scale).infer([N.TensorType(channels=1, height=h,
                                                                                          width=h + 1)])
                assert t is None and issues[0].code == "E0306"
                continue
            t, issues = N.Upsample(id=1, path="u", scale=scale).infer([N.TensorType(channels=1, height=h,
                                                                                      width=h + 1)])
            assert not issues and (t.height, t.width) == tuple(expected), (h, scale)


def test_the_deconv_rule_is_conv_transpose2ds_for_many_settings():
    for k, s, p, op, d in [(2, 2, 0, 0, 1), (3, 2, 1, 1, 1), (4, 3, 2, 2, 1), (3, 1, 1, 0, 2), (5, 2, 2, 1, 3)]:
        m = torch.nn.ConvTranspose2d(2, 3, k, s, p, op, dilation=d)
        for size in (1, 4, 7):
            expected = m(torch.zeros(1, 2, size, size + 2)).shape[1:]
            node = N.Deconv(id=1, path="d", out_channels=3, kernel=(k, k), stride=(s, s), padding=(p, p),
                            output_padding=(op, op), dilation=(d, d))
            t, issues = node.infer([N.TensorType(channels=2, height=size, width=size + 2)])
            assert not issues and (t.channels, t.height, t.width) == tuple(expected)


# --- channel split, for the builder -----------------------------------------------------------

def _emitter(input_type: N.TensorType):
    from archdsl.ir.graph import Graph
    from archdsl.semantics.emit import Emitter

    graph = Graph(name="t", input_type=input_type)
    em = Emitter(graph, [])
    x = em.emit(N.Input, [], "input", None, type=input_type)
    return em, x


def test_split_into_equal_parts_makes_views():
    em, x = _emitter(N.TensorType(channels=6, height=4, width=4))
    parts = em.split(x, "branch", None, 3)
    nodes = [em.graph[i] for i in parts]
    assert [(n.op, n.start, n.size, n.path) for n in nodes] == [
        ("slice", 0, 2, "branch.0"), ("slice", 2, 2, "branch.1"), ("slice", 4, 2, "branch.2")]
    assert all(n.type == N.TensorType(channels=2, height=4, width=4) for n in nodes) and not em.diagnostics


def test_split_into_given_sizes():
    em, x = _emitter(N.TensorType(channels=6, height=4, width=4))
    parts = em.split(x, "s", None, [1, 5])
    assert [em.graph[i].type.channels for i in parts] == [1, 5] and em.graph[parts[1]].start == 1


@pytest.mark.parametrize("sizes, message", [(4, "do not split into 4 equal parts"), ([2, 3], "2 + 3 = 5"),
                                            ([0, 6], "at least 1 channel")])
def test_a_split_that_does_not_cover_the_channels_is_diagnosed(sizes, message):
    em, x = _emitter(N.TensorType(channels=6, height=4, width=4))
    assert em.split(x, "s", None, sizes) == []
    (d,) = em.diagnostics
    assert d.code == "E0309" and message in d.message and d.help


# --- spelling ---------------------------------------------------------------------------------

@pytest.mark.parametrize("word, meant", [
    ("Hardswish", "hardswish"), ("GELU", "gelu"), ("LayerNorm", "layernorm"), ("ConvTranspose2d", "deconv"),
    ("Upsample", "upsample"), ("AdaptiveAvgPool2d", "adaptive_avgpool"), ("AdaptiveMaxPool2d", "adaptive_maxpool"),
    ("LeakyReLU", "leaky_relu"), ("ReLU6", "relu6"), ("SiLU", "silu"), ("swish", "silu"), ("GroupNorm", "groupnorm"),
    ("Conv2DTranspose", "deconv"), ("UpSampling2D", "upsample"), ("LayerNormalization", "layernorm"),
    ("Hardsigmoid", "hardsigmoid"), ("ChannelShuffle", "shuffle"), ("DropPath", "stochastic_depth"),
])
def test_a_foreign_name_maps_to_ours(word, meant):
    d = only(f"c conv 8 3x3\nx {word}\n")
    assert d.code == "E0201" and f"`{meant}`" in d.help and d.label == "not a layer type"


def test_swish_is_said_to_be_the_same_function():
    assert "same function" in only("x swish\n").help


@pytest.mark.parametrize("word", ["prelu", "selu", "celu", "rrelu", "softplus", "hardtanh", "logsoftmax", "PReLU"])
def test_a_different_function_is_never_a_silent_suggestion(word):
    help = only(f"x {word}\n").help
    assert "did you mean" not in help and "computes something else" in help


def test_a_typo_still_gets_its_suggestion():
    assert "did you mean `hardswish`?" in only("x hardswsh\n").help


# --- docs -------------------------------------------------------------------------------------

def test_the_docs_list_every_layer():
    from conftest import ROOT

    language = (ROOT / "docs" / "language.md").read_text()
    table = language[language.index("| type | arguments |"):language.index("Notes:")]
    blocks = (ROOT / "docs" / "blocks.md").read_text()
    listed = blocks[blocks.index("## Every layer"):blocks.index("# Block types beyond")]
    for op in OPS:
        assert f"`{op}`" in table, op
        assert f"`{op}`" in listed, op


def test_every_new_op_traces_as_one_graph_and_exports():
    body = ("a gelu\nln layernorm\ng groupnorm 2\npl position_linear 6\nls layer_scale\nsd stochastic_depth 0.5\n"
            "u upsample scale=2 mode=bilinear\nd deconv 4 2x2 /2\ns shuffle 2\nh hardswish\np adaptive_maxpool 3\n"
            "flatten\nlinear 3\n")
    _, model = build(body)
    model.train()
    torch._dynamo.reset()
    explained = torch._dynamo.explain(model)(torch.randn(2, 4, 8, 8))
    assert explained.graph_break_count == 0, explained.break_reasons
    exported = torch.export.export(model.eval(), (torch.randn(2, 4, 8, 8),))
    x = torch.randn(2, 4, 8, 8)
    assert torch.equal(exported.module()(x), model(x))
