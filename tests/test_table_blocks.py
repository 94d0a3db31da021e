"""One block mechanism: blocks written in the language that read a stage-table row, the prelude's
`basic` and `bottleneck` among them, and the language features they are written with
(`names=here`, a stateless layer's name called again, choice parameters, `require` in its
author's words, `pad=auto`)."""

from __future__ import annotations

import pytest

import archdsl
from archdsl.diagnostics import ArchError
from archdsl.semantics import prelude
from archdsl.semantics.blocks import registry

PREACT = """\
network preact
input 3x32x32

block preact [[c1, k1], [c2, k2]] stride=1 act=(relu, gelu)
  require c2 % 8 == 0 message="preact: {c2} channels are not a multiple of 8" label="{c2} channels" help="use 8k"
  bn1 bn
  relu1 act
  conv1 conv c1 k1 stride=stride pad=auto
  bn2 bn
  relu2 act
  conv2 conv c2 k2 pad=auto
  if stride == 1 and input.channels == c2
    add add from input, conv2
  else
    proj conv c2 1x1 stride=stride from input
    add add from proj, conv2

conv1 conv 16 3x3 pad=1
stages preact act=gelu
  layer1 [2, [[16,3x3],[16,3x3]]]
  layer2 [3, [[32,3x3],[32,5x5]]] /2
global_avgpool
flatten
fc linear 10
"""


def errors(text: str):
    return [d for d in archdsl.check(text) if d.is_error]


def test_a_table_block_reads_its_rows_entries_repeat_stride_and_stages_options():
    graph = archdsl.load(PREACT)
    convs = {n.path: n for n in graph.nodes() if n.op == "conv"}
    assert convs["layer2.0.conv1"].stride == (2, 2) and convs["layer2.1.conv1"].stride == (1, 1)
    assert convs["layer2.2.conv2"].kernel == (5, 5) and convs["layer2.2.conv2"].padding == (2, 2)  # pad=auto
    assert "layer2.0.proj" in convs and "layer2.1.proj" not in convs and "layer1.0.proj" not in convs
    assert {n.path for n in graph.nodes() if n.op == "gelu"} >= {"layer1.0.relu1", "layer2.2.relu2"}
    assert [n.type.channels for n in graph.nodes() if n.op == "output"] == [10]
    assert sum(1 for n in graph.nodes() if n.path.endswith(".add")) == 5


def test_a_table_rows_entry_count_option_and_choice_are_checked_at_the_row():
    wrong_count = errors(PREACT.replace("[[16,3x3],[16,3x3]]]", "[[16,3x3],[16,3x3],[16,1x1]]]"))
    assert [(d.code, d.message) for d in wrong_count] == [("E0211", "a `preact` block lists 2 convs, not 3")]
    unknown = errors(PREACT.replace("stages preact act=gelu", "stages preact act=gelu acts=relu"))
    assert [(d.code, d.help) for d in unknown] == [("E0203", "did you mean `act`?")]
    misspelt = errors(PREACT.replace("act=gelu", "act=gelly"))
    assert [(d.code, d.message, d.help) for d in misspelt] == [
        ("E0209", "act must be one of relu, gelu", "did you mean `gelu`?")]
    repeat = errors(PREACT.replace("[[32,3x3],[32,5x5]]] /2", "[[32,3x3],[32,5x5]]] /2 repeat=2"))
    assert [d.code for d in repeat] == ["E0206"]


def test_a_requirement_speaks_in_its_authors_words_at_the_entry_it_reads():
    text = PREACT.replace("[[32,3x3],[32,5x5]]", "[[32,3x3],[36,5x5]]")
    [d] = errors(text)
    assert (d.code, d.message, d.label, d.help) == ("E0224", "preact: 36 channels are not a multiple of 8",
                                                   "36 channels", "use 8k")
    line = text.splitlines()[d.span.line - 1]
    assert line[d.span.col - 1:d.span.end_col - 1] == "[36,5x5]"
    assert [n.message for n in d.notes] == ["required here"]


def test_only_the_prelude_names_a_catalogue_code_for_its_requirements():
    [d] = errors(PREACT.replace('help="use 8k"', 'help="use 8k" code=E0322'))
    assert d.code == "E0203" and "code" in d.message


def test_the_budget_projects_a_table_blocks_row():
    [d] = errors(PREACT.replace("layer1 [2,", "layer1 [100000,"))
    assert d.code == "E0502" and "`layer1`: 100,000 blocks of at least" in d.label


def test_names_here_puts_a_blocks_layers_in_the_scope_of_its_use():
    text = ("network t\ninput 3x8x8\nblock tail out\n  conv out 1x1\n  relu relu\n"
            "block b out\n  c conv out 3x3 pad=1\n  relu relu\n  tail out names=here\n  add add from input, relu\n"
            "x b 3\n")
    graph = archdsl.load(text)
    paths = [n.path for n in graph.nodes()]
    assert paths == ["input", "x.c", "x.relu", "x.2", "x.relu", "x.add", "output"]
    [d] = errors(text.replace("tail out names=here", "tail out names=here repeat=2"))
    assert d.code == "E0206"


def test_a_stateless_layers_name_called_again_is_one_module_a_stateful_ones_is_an_error():
    again = "network t\ninput 3x8x8\nblock b\n  relu relu\n  conv 3 3x3 pad=1\n  relu relu\nx b\n"
    assert [n.path for n in archdsl.load(again).nodes()][1:4] == ["x.relu", "x.1", "x.relu"]
    twice = "network t\ninput 3x8x8\nc conv 3 1x1\nc conv 3 1x1\n"
    assert [d.code for d in errors(twice)] == ["E0202"]
    other_type = "network t\ninput 3x8x8\nr relu\nr sigmoid\n"
    assert [d.code for d in errors(other_type)] == ["E0202"]


def test_basic_and_bottleneck_are_prelude_definitions_not_python():
    assert {"basic", "bottleneck"} <= set(prelude.names())
    assert not {"basic", "bottleneck"} & set(registry())
    assert all(prelude.blocks()[name].table for name in ("basic", "bottleneck"))
    with pytest.raises(ArchError) as raised:
        archdsl.load("network t\ninput 3x8x8\nblock bottleneck out\n  conv out 1x1\nx bottleneck 3\n")
    assert raised.value.diagnostics[0].code == "E0213"


@pytest.mark.parametrize("row, code, text", [
    ("layer2 [2, [[128,1x1],[130,3x3],[512,1x1]]] /2", "E0304", "[130,3x3]"),
    ("layer2 [2, [[128,1x1],[128,3x3],[8,1x1]]] /2 se=16", "E0322", "[8,1x1]"),
])
def test_a_prelude_blocks_problems_are_shown_at_the_users_table_entry(row, code, text):
    spec = ("network t\ninput 3x64x64\nconv1 conv 64 3x3 pad=1\nstages bottleneck groups=32\n"
            "  layer1 [1, [[128,1x1],[128,3x3],[256,1x1]]]\n  " + row + "\n")
    found = errors(spec)
    assert [d.code for d in found] == [code]
    span = found[0].span
    assert span.source.name != prelude.NAME and not found[0].notes
    assert spec.splitlines()[span.line - 1][span.col - 1:span.end_col - 1] == text
    if code == "E0304":
        assert found[0].label.endswith("(and 1 more block of this row)")


def test_default_statements_reach_the_prelude_blocks_options():
    text = ("network t\ninput 3x16x16\ndefault conv bias=true\ndefault bn eps=0.001\n"
            "stages basic\n  layer1 [1, [[3,3x3],[3,3x3]]]\n")
    nodes = list(archdsl.load(text).nodes())
    assert all(n.bias for n in nodes if n.op == "conv") and all(n.eps == 0.001 for n in nodes if n.op == "bn")


def test_the_prelude_checks_clean_as_a_library_and_its_names_are_taken_elsewhere():
    assert archdsl.check(prelude.PATH) == []
    [d] = errors("network t\ninput 3x8x8\nblock residual_se out\n  conv out 1x1\nx residual_se 3\n")
    assert d.code == "E0213" and "bundled prelude" in d.help


def test_the_prelude_is_formatted_and_every_parameter_is_read():
    from archdsl.diagnostics import Source
    from archdsl.semantics.userblocks import unused_parameters
    from archdsl.syntax.formatter import format_source

    text = prelude.PATH.read_text()
    assert format_source(Source(prelude.NAME, text)) == (text, [])
    assert [d.message for b in prelude.blocks().values() for d in unused_parameters(b)] == []


def test_a_table_rows_units_count_in_their_stages_section():
    text = ("network t\ninput 3x8x8\nblock sd [[c, k]] stride=1\n  conv c k stride=stride pad=auto\n"
            "  stochastic_depth div(0.5 * stage_unit, stage_units)\n"
            "stages sd\n  a [2, [[4,3x3]]]\n  b [3, [[4,3x3]]] /2\n")
    rates = [n.p for n in archdsl.load(text).nodes() if n.op == "stochastic_depth"]
    assert rates == [0.5 * i / 5 for i in range(5)]


def test_the_prelude_is_read_only_for_a_spec_that_names_one_of_its_blocks_and_only_what_it_needs():
    prelude._definition.cache_clear()
    try:
        archdsl.load("network t\ninput 3x8x8\nconv 4 3x3\nrelu\n")
        assert prelude._definition.cache_info().currsize == 0
        archdsl.load("network t\ninput 3x8x8\nstages bottleneck\n  l [1, [[3,1x1],[3,3x3],[3,1x1]]]\n")
        read = {name for name in prelude.names() if name != "basic"}
        assert prelude._definition.cache_info().currsize == len(read) == 3
        block = prelude.blocks({"bottleneck"})["bottleneck"]
        assert prelude.PATH.read_text().split("\n")[block.name_span.line - 1].startswith("block bottleneck")
    finally:
        prelude._definition.cache_clear()
