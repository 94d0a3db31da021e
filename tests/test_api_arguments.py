"""The arguments of load, check and build: parameter overrides of every kind, input sizes,
limits, the spec itself, and parameter names that build's own arguments would swallow."""

import codecs
import inspect

import pytest

import archdsl
from archdsl.api import decode
from archdsl.diagnostics import Source
from archdsl.semantics import RESERVED_PARAMS

SWITCHES = """\
network t
input 3x32x32
param use_bias = false
param k = 3x3
param square = (3,3)
param width = 8
param wide = width * 2
param eps = 1e-5
param shortcut = proj
conv wide k pad=1 bias=use_bias
bn eps=eps
conv width square pad=1
"""


def conv_of(graph, index=1):
    return list(graph.nodes())[index]


def declared_line(name: str) -> int:
    """The line of SWITCHES that declares parameter `name`."""
    return next(n for n, line in enumerate(SWITCHES.splitlines(), 1) if line.startswith(f"param {name} "))


def only_error(**arguments) -> archdsl.Diagnostic:
    with pytest.raises(archdsl.ArchError) as caught:
        archdsl.load(SWITCHES, **arguments)
    (found,) = caught.value.diagnostics
    return found


# --- parameter overrides: each of its default's kind -----------------------------------------

@pytest.mark.parametrize("value, bias", [(True, True), (False, False), ("true", True), ("false", False)])
def test_a_true_false_parameter_takes_true_and_false(value, bias):
    graph = archdsl.load(SWITCHES, use_bias=value)
    assert conv_of(graph).bias is bias
    assert graph.params["use_bias"] == ("true" if bias else "false")  # kept as the spec keeps it, the word


@pytest.mark.parametrize("value", [(5, 5), [5, 5], "5x5"])
def test_a_size_parameter_takes_a_size(value):
    graph = archdsl.load(SWITCHES, k=value, square=value)
    assert conv_of(graph).kernel == (5, 5) and conv_of(graph, 3).kernel == (5, 5)
    assert graph.params["k"] == (5, 5)


@pytest.mark.parametrize("name, value, message, help", [
    ("use_bias", 1, "parameter `use_bias` takes true or false, not 1", "pass true or false, like `use_bias=false`"),
    ("use_bias", "yes", "parameter `use_bias` takes true or false, not 'yes'", "like `use_bias=false`"),
    ("k", 5, "parameter `k` takes a size of 2 numbers, not 5", "pass a size of 2 numbers, like `k=3x3`"),
    ("k", "5", "parameter `k` takes a size of 2 numbers, not '5'", "like `k=3x3`"),
    ("k", (5, 5, 5), "parameter `k` takes a size of 2 numbers, not (5, 5, 5)", "like `k=3x3`"),
    ("k", (1.5, 2), "parameter `k` takes a size of 2 numbers, not (1.5, 2)", "like `k=3x3`"),
    ("k", (True, 3), "parameter `k` takes a size of 2 numbers, not (True, 3)", "like `k=3x3`"),
    ("width", True, "parameter `width` takes a whole number, not True", "like `width=8`"),
    ("width", "5x5", "parameter `width` takes a whole number, not '5x5'", "like `width=8`"),
    ("eps", "tiny", "parameter `eps` takes a number, not 'tiny'", "like `eps=1e-05`"),
    ("eps", float("inf"), "parameter `eps` takes a number, not inf", "like `eps=1e-05`"),
    ("shortcut", True, "parameter `shortcut` takes a word, not True", "like `shortcut=proj`"),
    ("shortcut", "two words", "parameter `shortcut` takes a word, not 'two words'", "like `shortcut=proj`"),
])
def test_an_override_of_another_kind_is_e0208_at_the_declaration(name, value, message, help):
    found = only_error(**{name: value})
    assert (found.code, found.message, found.label) == ("E0208", message, "declared here")
    assert help in found.help
    assert found.span.line == declared_line(name)


def test_a_parameter_computed_from_another_follows_its_override():
    assert conv_of(archdsl.load(SWITCHES)).out_channels == 16
    graph = archdsl.load(SWITCHES, width=12)
    assert graph.params["wide"] == 24 and conv_of(graph).out_channels == 24


def test_an_error_at_a_value_set_from_outside_notes_at_the_declaration_where_it_came_from():
    found = only_error(eps=-1.0)
    assert (found.code, found.message) == ("E0209", "eps must be a non-negative number")
    (note,) = found.notes
    assert note.span.line == declared_line("eps")
    assert note.message == "`eps` is -1.0: set from outside the spec (-D or a keyword argument)"


def test_an_error_at_a_value_computed_from_one_set_from_outside_names_both():
    with pytest.raises(archdsl.ArchError) as caught:
        archdsl.load(SWITCHES, width=0)
    wide, width = caught.value.diagnostics
    assert [n.message for n in wide.notes] == ["`wide` is 0: computed from `width`, set from outside the spec"]
    assert [n.span.line for n in wide.notes] == [declared_line("wide")]
    assert [n.message for n in width.notes] == ["`width` is 0: set from outside the spec (-D or a keyword argument)"]


def test_an_option_spelt_like_a_parameter_set_from_outside_is_not_blamed():
    spec = "network t\ninput 3x32x32\nparam pad = 1\nparam width = 8\nconv width 3x3 pad=1\nconv 8 3x3 pad=pad\n"
    with pytest.raises(archdsl.ArchError) as caught:
        archdsl.load(spec, width=0, pad=2)
    (found,) = caught.value.diagnostics
    assert [n.message for n in found.notes] == ["`width` is 0: set from outside the spec (-D or a keyword argument)"]


def test_the_same_error_from_the_specs_own_value_has_no_such_note():
    with pytest.raises(archdsl.ArchError) as caught:
        archdsl.load(SWITCHES.replace("param width = 8", "param width = 0"))
    assert len(caught.value.diagnostics) == 2 and all(not d.notes for d in caught.value.diagnostics)


def test_a_rebuilt_graph_keeps_the_values_given_and_recomputes_the_rest():
    graph = archdsl.load(SWITCHES, width=12)
    assert archdsl.build(graph, k=(1, 1)).get_submodule("0").out_channels == 24
    assert archdsl.build(graph, width=4).get_submodule("0").out_channels == 8
    pinned = archdsl.load(SWITCHES, width=12, wide=20)
    assert archdsl.build(pinned, width=4).get_submodule("0").out_channels == 20


def test_numbers_take_whole_numbers_and_numpy_integers():
    numpy = pytest.importorskip("numpy")
    assert archdsl.load(SWITCHES, eps=1, width=numpy.int64(4)).params["eps"] == 1.0  # (bn refuses eps=0: E0311)
    assert archdsl.load(SWITCHES, width=numpy.int64(4)).params["width"] == 4


def test_a_list_parameter_is_changed_in_the_spec_only_but_survives_a_rebuild():
    text = SWITCHES.replace("param eps = 1e-5", "param eps = 1e-5 table = [1, [2, 3]]")
    found = archdsl.check(text, table=[1, [2, 4]])
    assert [(d.code, d.help) for d in found] == [("E0208", "a list parameter is changed in the spec itself")]
    graph = archdsl.load(text, use_bias=True, k=(1, 1))
    again = archdsl.build(graph, width=4)  # reloads with the graph's own values, the list among them
    assert again.get_submodule("0").kernel_size == (1, 1) and again.get_submodule("0").bias is not None
    assert again.get_submodule("0").out_channels == 8


def test_build_takes_true_false_and_size_overrides():
    model = archdsl.build(SWITCHES, use_bias=True, k=(5, 5))
    assert model.get_submodule("0").bias is not None and model.get_submodule("0").kernel_size == (5, 5)


# --- input_size ------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [160, (160, 160), [160, 160], (3, 160, 160), "160", "160x160", "3x160x160"])
def test_input_size_takes_what_dash_dash_input_takes(size):
    t = archdsl.load(SWITCHES, input_size=size).input_type
    assert (t.channels, t.height, t.width) == (3, 160, 160)


@pytest.mark.parametrize("size, message", [
    ((1.5, 5), "an input size is height x width or channels x height x width, not (1.5, 5)"),
    ((64,), "an input size is height x width or channels x height x width, not (64,)"),
    ((1, 2, 3, 4), "an input size is height x width or channels x height x width, not (1, 2, 3, 4)"),
    ((True, 5), "an input size is height x width or channels x height x width, not (True, 5)"),
    ("3x160xl60", "an input size is height x width or channels x height x width, not '3x160xl60'"),
    ((0, 5), "input sizes must be between 1 and 65536, not 0x5"),
    (-1, "input sizes must be between 1 and 65536, not -1x-1"),
    ((4, 160, 160), "the spec takes 3-channel input, not 4"),
])
def test_a_bad_input_size_is_e0208(size, message):
    (found,) = archdsl.check(SWITCHES, input_size=size)
    assert (found.code, found.message) == ("E0208", message) and found.help
    with pytest.raises(archdsl.ArchError, match="E0208"):
        archdsl.load(SWITCHES, input_size=size)


@pytest.mark.parametrize("size", [1.5, True, {"height": 5}, b"3x5x5"])
def test_an_input_size_of_another_type_is_a_type_error(size):
    for call in (archdsl.load, archdsl.check):
        with pytest.raises(TypeError, match="input_size must be"):
            call(SWITCHES, input_size=size)
    with pytest.raises(TypeError, match="input_size must be"):
        archdsl.build(SWITCHES, input_size=size)


# --- limits and the spec -----------------------------------------------------------------------

@pytest.mark.parametrize("limits", [5, {"params": 5}, "1G"])
def test_limits_must_be_a_limits(limits):
    for call in (archdsl.load, archdsl.check, archdsl.build):
        with pytest.raises(TypeError, match=r"limits must be an archdsl\.Limits, like Limits\(params=10\*\*8\)"):
            call(SWITCHES, limits=limits)
    graph = archdsl.load(SWITCHES)
    with pytest.raises(TypeError, match="limits must be"):
        archdsl.build(graph, limits=limits)  # a Graph is not loaded again, but its limits are checked


@pytest.mark.parametrize("spec", [None, 123, b"network t\n"])
def test_a_spec_of_another_type_is_a_type_error(spec):
    with pytest.raises(TypeError, match="the spec must be a path, the spec's text or an archdsl Source"):
        archdsl.check(spec)


@pytest.mark.parametrize("spec", ["", "   ", "\n"])
def test_an_empty_spec_string_says_so(spec):
    (found,) = archdsl.check(spec)
    assert (found.code, found.message) == ("E0001", "the spec is an empty string: no path and no text")
    assert found.help == "give the path of a .arch file, or the spec's text"


# --- parameter names build's own arguments would take (E0214) ---------------------------------

def test_the_reserved_names_are_builds_own_arguments():
    own = set()
    for function in (archdsl.build, archdsl.load, archdsl.check):
        own |= {p.name for p in inspect.signature(function).parameters.values() if p.kind != p.VAR_KEYWORD}
    assert own == set(RESERVED_PARAMS)


@pytest.mark.parametrize("name", RESERVED_PARAMS)
def test_a_parameter_named_like_builds_argument_is_e0214_at_its_name(name):
    text = f"network t\ninput 3x8x8\nparam width = 4 {name} = 4\nconv {name} 3x3\n"
    (found,) = archdsl.check(text)  # declared all the same: its use is not an unknown parameter
    assert found.code == "E0214" and (found.span.line, found.span.col, found.span.end_col) == (
        3, 17, 17 + len(name))
    assert found.message == f"`{name}` is an argument of archdsl.build and cannot name a parameter"
    assert f"build({name}=...)" in found.help


def test_load_is_told_that_a_build_argument_is_not_its_own():
    with pytest.raises(archdsl.ArchError) as caught:
        archdsl.load(SWITCHES, dtype="fp16")
    (found,) = caught.value.diagnostics
    assert found.message == "unknown parameter `dtype`"
    assert found.help == "`dtype` is an argument of archdsl.build; load and check do not take it"


# --- a byte-order mark -----------------------------------------------------------------------

def test_a_byte_order_mark_is_dropped_and_columns_count_after_it(tmp_path):
    path = tmp_path / "bom.arch"
    path.write_bytes(codecs.BOM_UTF8 + b"network t\r\ninput 3x8x8\r\nconv 4 3x3\r\n")
    assert archdsl.check(path) == []
    path.write_bytes(codecs.BOM_UTF8 + b"network 5\ninput 3x8x8\nconv 4 3x3\n")
    (found,) = archdsl.check(path)
    assert (found.code, found.span.line, found.span.col) == ("E0206", 1, 1)
    source, _ = decode("bom.arch", codecs.BOM_UTF8 + b"network t\n")
    assert source.text == "network t\n"


def test_a_byte_order_mark_before_a_bad_byte_keeps_its_column():
    _, (found,) = decode("bad.arch", codecs.BOM_UTF8 + b"conv \xff\n")
    assert (found.code, found.span.line, found.span.col) == ("E0002", 1, 6)


def test_spec_text_with_a_byte_order_mark_reads_as_text():
    assert archdsl.check("\ufeffnetwork t\ninput 3x8x8\nconv 4 3x3\n") == []
    assert archdsl.check(Source("s.arch", "network t\ninput 3x8x8\nconv 4 3x3\n")) == []
