"""Blocks defined in the language: definitions, uses, rows, conditions, values, libraries, and
what the checker says about them."""

import json

import pytest
import torch

import archdsl
from archdsl.api import analyse
from archdsl.ir.state import parameter_count, state_entries
from archdsl.semantics.functions import make_divisible
from conftest import ROOT

HEAD = "input 3x32x32\n"
LIB = (ROOT / "specs" / "torchvision_blocks.arch").read_text()
INVERTED = """
block inverted_residual out expand=6 stride=1
  let hidden = round(input.channels * expand)
  scope conv
    if expand != 1
      conv_bn_act hidden kernel=1 act=relu6
    conv_bn_act hidden stride=stride groups=hidden act=relu6
    conv out 1x1
    bn
  if stride == 1 and input.channels == out
    add from input, conv
"""


def codes(text):
    return [d.code for d in analyse(text)[1]]


def keys(text, **params):
    return {e.key: e.shape for e in state_entries(archdsl.load(text, **params))}


def nodes(text, op):
    return [n for n in archdsl.load(text).nodes() if n.op == op]


def test_inverted_residual_builds_torchvisions_layout():
    text = HEAD + LIB + INVERTED + "scope features\n  conv_bn_act 32 stride=2 act=relu6\n" \
        "  inverted_residual 16 expand=1 repeat=1 names=flat\n  inverted_residual 24 repeat=2 names=flat /2\n"
    found = keys(text)
    assert found["features.1.conv.0.0.weight"] == (32, 1, 3, 3)  # expand=1: the depthwise conv comes first
    assert found["features.1.conv.1.weight"] == (16, 32, 1, 1)
    assert found["features.2.conv.0.0.weight"] == (96, 16, 1, 1)
    assert found["features.2.conv.1.0.weight"] == (96, 1, 3, 3) and "features.4.conv.0.0.weight" not in found
    graph = archdsl.load(text)
    assert str(graph[len(graph) - 1].type) == "24x8x8"  # only the first unit of the row takes the stride
    adds = [n.path for n in graph.nodes() if n.op == "add"]
    assert adds == ["features.3.1"]  # the residual only where the shape is kept


@pytest.mark.parametrize("value, divisor, expected", [(24.0, 8, 24), (37.5, 8, 40), (10, 8, 16), (3, 8, 8),
                                                       (1280 * 1.4, 8, 1792), (11.2, 8, 16)])
def test_make_divisible_is_torchvisions_rounding(value, divisor, expected):
    assert make_divisible(value, divisor) == expected


def test_expressions_compare_combine_and_call_functions():
    text = HEAD + "param w = 0.75\nlet a = max(1, 64 // 4)\nlet b = round(2.5) + ceil(w) + floor(3 * w) + min(4, 9) % 3\n" \
        "require a == 16 and not (b != 6) or w > 1\nconv make_divisible(32 * w, 8) 1x1\n"
    assert codes(text) == []
    assert keys(text)["0.weight"] == (24, 3, 1, 1)


def test_rows_name_their_units_and_tell_each_its_place():
    block = "block unit out stride=1\n  conv out 3x3 stride=stride pad=1\n  stochastic_depth 0.1 * stage_unit / stage_units\n"
    text = HEAD + block + "stages\n  s1 unit 8 repeat=2 /2\n  s2 unit 16 repeat=2 names=prefixed /2\n" \
        "unit 16 repeat=2 names=flat\n"
    graph = archdsl.load(text)
    convs = [(n.path, n.stride) for n in graph.nodes() if n.op == "conv"]
    assert convs == [("s1.0.0", (2, 2)), ("s1.1.0", (1, 1)), ("s2.s2-0.0", (2, 2)), ("s2.s2-1.0", (1, 1)),
                     ("2.0", (1, 1)), ("3.0", (1, 1))]
    rates = [round(n.p, 6) for n in nodes(text, "stochastic_depth")]
    assert rates == [0.0, 0.025, 0.05, 0.075, 0.0, 0.05]  # outside `stages`: the unit's place in its row


def test_conditions_pick_one_branch_and_positions_count_what_is_there():
    text = HEAD + "param kind = b\nif kind == a\n  conv 8 1x1\nelif kind == b\n  conv 16 1x1\n  bn\nelse\n  conv 32 1x1\n4 relu\nconv 8 1x1\n"
    graph = archdsl.load(text)
    assert [(n.path, n.op) for n in graph.nodes() if n.op in ("conv", "bn")] == [("0", "conv"), ("1", "bn"), ("5", "conv")]
    assert keys(text, kind="c")["0.weight"] == (32, 3, 1, 1)


def test_an_activation_parameter_names_the_layer_and_none_leaves_it_out():
    text = HEAD + LIB + "conv_bn_act 8 act=hardswish\nconv_bn_act 8 act=none\nconv 8 1x1\n"
    ops = [(n.path, n.op) for n in archdsl.load(text).nodes()][1:]
    assert ("0.2", "hardswish") in ops and not any(p.startswith("1.2") for p, _ in ops)


def test_split_parts_are_values_and_must_cover_the_channels():
    text = HEAD + "conv 16 1x1\nparts split 2\nright conv 8 1x1 from parts.1\nconcat from parts.0, right\nshuffle 2\n"
    assert codes(text) == []
    model = archdsl.build(text)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 16, 32, 32)
    assert codes(HEAD + "conv 16 1x1\nparts split 4 8\nconcat from parts.0, parts.1\n") == ["E0309"]
    assert codes(HEAD + "conv 15 1x1\nparts split 2\nconcat from parts.0, parts.1\n") == ["E0309"]


def test_dashed_and_numbered_names_build_and_run():
    text = HEAD + "block unit out stride=1\n  a conv out 3x3 stride=stride pad=1\n  b bn\n" \
        "scope trunk\n  block1 unit 8 repeat=2 names=prefixed /2\n2 relu\nadd from trunk, 2\n"
    model = archdsl.build(text)
    assert "trunk.block1.block1-1.b.running_var" in model.state_dict()
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 8, 16, 16)
    assert codes(HEAD + "conv 8 1x1\nbn\n1 relu\n") == ["E0225"]


def test_a_use_is_checked_against_the_definition():
    block = "block cb out kernel=3 stride=1\n  conv out kernel stride=stride pad=kernel // 2\n"
    assert codes(HEAD + block + "cb 8 strides=2\n") == ["E0203"]
    assert codes(HEAD + block + "cb kernel=5\n") == ["E0207"]
    assert codes(HEAD + block + "cb 8 3 1 7\n") == ["E0206"]
    assert codes(HEAD + block + "cb 8 stride=2 /2\n") == ["E0202"]
    assert codes(HEAD + "block plain out\n  conv out 1x1\nplain 8 /2\n") == ["E0206"]
    assert codes(HEAD + block + "cb 8 names=flat\n") == ["E0206"]


GATED = """
block gated out se=0
  pre conv out 1x1
  if se > 0
    {scope}
      pool global_avgpool
      expand conv out 1x1
      gate sigmoid
    scaled mul from pre, se
gated 8 se=0.25
gated 8 se=0.5
"""


@pytest.mark.parametrize("scope", ["scope se", "se scope"])
def test_a_parameter_named_like_a_layer_the_body_reads_with_from_is_one_error(scope):
    """GhostNet written with a parameter `se` and a scope `se`: one error at the definition,
    pointing at both, not E0206 at every use."""
    (d,) = analyse(HEAD + GATED.format(scope=scope))[1]
    assert d.code == "E0202" and "`se` names both a parameter of block `gated` and a layer" in d.message
    assert (d.span.line, d.span.col) == (6, 11 if scope == "scope se" else 5)
    assert [(n.span.line, n.span.col, n.message) for n in d.notes] == [(3, 17, "the parameter")]
    renamed = GATED.format(scope="scope se_gate").replace("from pre, se\n", "from pre, se_gate\n")
    assert codes(HEAD + renamed) == []


def test_a_parameter_read_only_as_a_number_may_name_a_layer_too():
    """SqueezeNet's `fire squeeze expand`: `squeeze conv squeeze 1x1` names the layer as torchvision does."""
    assert codes(HEAD + "block fire squeeze\n  squeeze conv squeeze 1x1\n  relu\nfire 8\n") == []


def test_an_error_in_a_body_points_at_the_body_and_notes_each_use():
    text = HEAD + "block bad out\n  linear out\nconv 8 1x1\nbad 4\n"
    (d,) = analyse(text)[1]
    assert (d.code, d.span.line) == ("E0305", 3)
    assert [n.span.line for n in d.notes] == [5] and "bad" in d.notes[0].message


def test_requirements_recursion_and_unused_definitions():
    grouped = "block grouped out groups=8\n  require out % groups == 0\n  conv out 3x3 pad=1 groups=groups\n"
    (d,) = analyse(HEAD + "conv 16 1x1\n" + grouped + "grouped 100\n")[1]
    assert (d.code, d.span.line, d.notes[0].span.line) == ("E0224", 6, 4) and "out=100" in d.label
    assert codes(HEAD + "block a out\n  b out\nblock b out\n  a out\na 8\n") == ["E0223"]
    assert codes(HEAD + "block cb out k=3\n  conv out 1x1\ncb 8\n") == ["W0410"]
    assert codes(HEAD + "block cb out\n  conv out 1x1\nconv 8 1x1\n") == ["W0411"]


def test_no_error_echoes_an_unknown_size():
    text = HEAD + LIB + INVERTED + "conv 8 3x3 groups=2\ninverted_residual 16\ninverted_residual 16\n"
    assert codes(text) == ["E0304"]


def test_libraries_are_read_beside_the_spec_and_held_to_their_rules(tmp_path):
    (tmp_path / "blocks.arch").write_text("# shared\nuse more\nblock cb out\n  conv out 1x1\n  bn\n")
    (tmp_path / "more.arch").write_text("block cr out\n  conv out 1x1\n  relu\n")
    spec = tmp_path / "net.arch"
    spec.write_text(HEAD + "use blocks\ncb 8\ncr 4\n")
    assert analyse(spec)[1] == []  # the library's unused blocks are no warning
    assert set(keys(spec)) >= {"0.0.weight", "0.1.running_mean", "1.0.weight"}
    (tmp_path / "more.arch").write_text("use blocks\nblock cr out\n  conv out 1x1\n")
    assert codes(spec) == ["E0222"]
    (tmp_path / "more.arch").write_text("conv 8 1x1\n")
    assert "E0222" in codes(spec)
    for bad in ("use ../blocks\n", "use /etc/passwd\n", "use blocks.arch\n", "use\n"):
        spec.write_text(HEAD + bad + "conv 8 1x1\n")
        assert codes(spec)[:1] in (["E0222"], ["E0102"], ["E0101"]), bad


def test_a_row_too_large_for_the_budget_is_refused_quickly():
    text = HEAD + "block big out\n  conv out 3x3 pad=1\nconv 4096 1x1\nbig 4096 repeat=100000\n"
    assert codes(text)[0] == "E0501"


def test_mobilenet_v2_width_variants_follow_torchvisions_rounding():
    graph = archdsl.load("mobilenet_v2", width_mult=0.5)
    assert parameter_count(graph) == 1_968_680  # torchvision's mobilenet_v2(width_mult=0.5)


def test_rows_under_stages_of_a_user_block_and_what_the_stage_counts():
    block = "block unit out stride=1\n  conv out 3x3 stride=stride pad=1\n  stochastic_depth 0.2 * stage_unit / stage_units\n"
    down = "block down out\n  conv out 2x2 /2\n"
    text = HEAD + block + down + "stages unit\n  s1 8 repeat=2\n  down 16\n  s2 16 repeat=2\n"
    graph = archdsl.load(text)
    assert [n.path for n in graph.nodes() if n.op == "conv"] == ["s1.0.0", "s1.1.0", "1.0", "s2.0.0", "s2.1.0"]
    assert [round(n.p, 6) for n in nodes(text, "stochastic_depth")] == [0.0, 0.05, 0.1, 0.15]


def test_a_block_library_checked_as_a_spec_says_it_is_a_library():
    (d,) = analyse(ROOT / "specs" / "torchvision_blocks.arch")[1]
    assert d.code == "E0212" and "block library" in d.message and "use torchvision_blocks" in d.help


LIBRARY = ROOT / "specs" / "torchvision_blocks.arch"


def test_a_block_library_is_checked_on_its_own_with_compile_check(capsys):
    from archdsl.cli import main

    assert main(["compile", str(LIBRARY), "--check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: block library torchvision_blocks: 5 blocks "
                          "(conv_bn_act, squeeze_excite, mbconv, fused_mbconv, basic_conv) (")
    assert archdsl.check(LIBRARY) == []


BROKEN_LIBRARY = """\
use other
block a out k=3
  conv out k
block a out
  conv out 1x1
block relu x
  conv x 1x1
block b out unused
  conv out 1x1
use missing
"""


def test_a_library_reports_what_reading_its_definitions_finds(tmp_path, capsys):
    from archdsl.cli import main

    (tmp_path / "other.arch").write_text("block o x\n  conv x 1x1\n")
    (tmp_path / "mylib.arch").write_text(BROKEN_LIBRARY)
    assert main(["compile", str(tmp_path / "mylib.arch"), "--check", "--format", "json"]) == 1
    found = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(d["code"], d["line"]) for d in found] == [("E0202", 4), ("E0213", 6), ("W0410", 8), ("E0222", 10)]
    (tmp_path / "mylib.arch").write_text(BROKEN_LIBRARY.split("block a out\n")[0] + "block b out unused\n"
                                         "  conv out 1x1\n")
    assert main(["compile", str(tmp_path / "mylib.arch"), "--check"]) == 0  # a warning alone passes
    assert capsys.readouterr().out.startswith("ok: block library mylib: 2 blocks (a, b); uses other (")
    assert main(["compile", str(tmp_path / "mylib.arch"), "--check", "--strict"]) == 1


@pytest.mark.parametrize("command", [["summary"], ["render", "-o", "never.dot"], ["compile"],
                                     ["compile", "--emit", "ir"]])
def test_commands_that_need_a_network_refuse_a_library(command, capsys, monkeypatch, tmp_path):
    from archdsl.cli import main

    monkeypatch.chdir(tmp_path)
    assert main([command[0], str(LIBRARY), *command[1:]]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error[E0212]: this file is a block library, not a network") and "--check` checks" in err
    assert list(tmp_path.iterdir()) == []


def test_python_loads_and_builds_no_library_and_list_names_none():
    with pytest.raises(archdsl.ArchError) as refused:
        archdsl.load(LIBRARY)
    assert [d.code for d in refused.value.diagnostics] == ["E0212"]
    assert "torchvision_blocks" not in archdsl.list_models()


def test_a_file_that_is_neither_network_nor_library_is_still_e0212(tmp_path, capsys):
    from archdsl.cli import main

    (tmp_path / "t.arch").write_text("block a out\n  conv out 1x1\nconv 8 3x3\n")
    assert main(["compile", str(tmp_path / "t.arch"), "--check"]) == 1
    assert capsys.readouterr().err.startswith("error[E0212]: the spec declares no input")


def test_an_if_right_after_a_taken_if_is_a_chain_of_its_own():
    """Swin's window attention pads and then rolls, each under its own `if`: the second `if` used to be
    skipped as though it were an `elif` of the first, so a padded map was never cropped back."""
    text = ("input 8x16x16\nblock t window shift\n  let ph = ceil(input.h / window) * window\n"
            "  if ph != input.h\n    zeropad h=(0, ph - input.h)\n  if shift > 0\n    roll h=shift\n"
            "  if ph != input.h\n    crop h=(0, input.h)\n  elif shift > 0\n    identity\n"
            "rearrange \"c h w -> h w c\"\nt 7 3\n")
    assert [n.op for n in archdsl.load(text).nodes()] == ["input", "rearrange", "pad", "roll", "crop", "output"]
