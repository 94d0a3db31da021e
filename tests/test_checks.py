"""One broken spec per compile-time check: the right code, at the right place, with a hint."""

import pytest

import archdsl

HEADER = "network t\ninput 3x32x32\nparam num_classes = 10\n"


def diagnostics(body: str, **params):
    return archdsl.check(HEADER + body, **params)


def only(body: str, **params):
    found = diagnostics(body, **params)
    assert len(found) == 1, "\n".join(f"{d.code} {d.message}" for d in found)
    return found[0]


def where(d):
    return (d.code, d.span.line, d.span.col)


def test_add_channel_mismatch_from_identity_shortcut():
    d = only("stages bottleneck shortcut=identity\n  layer1 [1, [[16,1x1],[16,3x3],[64,1x1]]]\n")
    assert where(d) == ("E0301", 5, 3)
    assert "channels differ (64 vs 3)" in d.message and "projection" in d.help


def test_add_spatial_mismatch_is_a_stride_inconsistency():
    body = ("c conv 8 3x3 pad=1\nresidual r\n  conv 8 3x3 /2 pad=1\n  bn\n")
    d = only(body)
    assert where(d) == ("E0302", 5, 1) and "16x16 vs 32x32" in d.message


def test_explicit_add_points_at_both_producers():
    body = "a conv 8 3x3 pad=1\nb conv 16 3x3 pad=1 from input\nsum add from a, b\n"
    d = only(body)
    assert where(d) == ("E0301", 6, 1)
    assert [n.span.line for n in d.notes] == [5]


def test_conv_declared_input_channels():
    d = only("conv 8 3x3 in=4\n")
    assert where(d) == ("E0303", 4, 1) and "declares 4 input channels, but its input has 3" in d.message


def test_linear_declared_input_features():
    d = only("global_avgpool\nflatten\nfc linear num_classes in=64\n")
    assert where(d) == ("E0303", 6, 1)


def test_linear_needs_a_flat_input():
    d = only("fc linear num_classes\n")
    assert d.code == "E0305" and "flatten" in d.help


def test_groups_must_divide_channels():
    d = only("stem\n  conv 100 3x3\nstages bottleneck groups=32\n  layer1 [1, [[100,1x1],[100,3x3],[256,1x1]]]\n")
    assert where(d) == ("E0304", 7, 25)  # the [100,3x3] entry
    assert "nearest: 96, 128" in d.help


def test_groups_error_points_at_the_table_entry():
    d = only("stages bottleneck groups=32\n  layer1 [1, [[96,1x1],[100,3x3],[256,1x1]]]\n")
    assert where(d) == ("E0304", 5, 24)


def test_sizes_must_stay_positive():
    d = only("conv 8 7x7 /2\nconv 8 7x7 /2\nconv 8 7x7 /2\n")
    assert where(d) == ("E0306", 6, 1) and "4x4 input is too small for a 7x7 window" in d.message


def test_unknown_layer_type_suggests():
    d = only("bn1 bnn\n")
    assert where(d) == ("E0201", 4, 5) and d.help == "did you mean `bn`?"


def test_unknown_block_type_suggests():
    d = only("stages botleneck\n  layer1 [1, [[8,1x1],[8,3x3],[32,1x1]]]\n")
    assert where(d) == ("E0201", 4, 8) and d.help == "did you mean `bottleneck`?"


def test_unknown_option_suggests():
    d = only("conv 8 3x3 gropus=2\n")
    assert where(d) == ("E0203", 4, 12) and d.help == "did you mean `groups`?"


def test_unknown_value_suggests():
    d = only("first conv 8 3x3\nsecond conv 8 3x3 from frist\n")
    assert where(d) == ("E0204", 5, 24) and d.help == "did you mean `first`?"


def test_unknown_parameter_suggests():
    d = only("linear num_clases\n")
    assert d.code == "E0205" and d.help == "did you mean `num_classes`?"


def test_duplicate_name():
    d = only("a conv 8 3x3\na conv 8 3x3\n")
    assert where(d) == ("E0202", 5, 1) and d.notes[0].span.line == 4


def test_unused_value_is_a_warning():
    d = only("a conv 8 3x3 pad=1\nb conv 8 3x3 pad=1\nc relu from a\n")
    assert where(d) == ("W0401", 5, 1) and not d.is_error


def test_missing_kernel_size():
    d = only("conv 64\n")
    assert d.code == "E0207" and "kernel size" in d.message and "conv 64 3x3" in d.help


def test_every_error_is_reported_at_once_in_source_order():
    # the last conv reads the input, not the failed layers, so its own error is still found
    found = diagnostics("conv 8 3x3 gropus=2\nbn1 bnn\nconv 8 3x3 in=5 from input\n")
    assert [d.code for d in found] == ["E0203", "E0201", "E0303"]
    assert [d.span.line for d in found] == [4, 5, 6]


@pytest.mark.parametrize("text, code, line, col", [
    ("network t\ninput 3x32x32\nstages bottleneck\n  layer1 [3, [[64,1x1],[64,3x3]\n", "E0103", 4, 14),
    ("network t\ninput 3x32x32\nconv 8 3x3 $\n", "E0101", 3, 12),
    ("network t\ninput 3x32x32\n  conv 8 3x3\n", "E0104", 3, 3),
    ("network t\ninput 3x32x32\nscope a\n    conv 8 3x3\n  conv 8 3x3\n", "E0104", 5, 1),
    ("network t\ninput 3x32x32\nconv 8 3x3 pad=\n", "E0102", 3, 16),
    ("network t\ninput 3x32x32\nconv 99999999999 3x3\n", "E0105", 3, 6),
])
def test_syntax_errors_speak_the_language(text, code, line, col):
    found = archdsl.check(text)
    assert where(found[0]) == (code, line, col)
    rendered = str(archdsl.ArchError(found))
    for internal in ("_NL", "NAME", "LSQB", "Token(", "$END", "__ANON"):
        assert internal not in rendered


def test_several_syntax_errors_in_one_run():
    found = archdsl.check("network t\ninput 3x32x32\nconv 8 3x3 $\nbn\nrelu @\n")
    assert [(d.code, d.span.line) for d in found] == [("E0101", 3), ("E0101", 5)]


def test_missing_input_declaration():
    assert archdsl.check("network t\nconv 8 3x3\n")[0].code == "E0212"


def test_override_type_is_checked():
    d = only("global_avgpool\nflatten\nlinear num_classes\n", num_classes="many")
    assert d.code == "E0208"


def test_stride_given_twice_points_at_both():
    d = only("maxpool 3x3 /2 stride=1\n")
    assert where(d) == ("E0202", 4, 16) and [n.span.col for n in d.notes] == [13]


def test_missing_kernel_is_named():
    d = only("conv 8\n")
    assert where(d) == ("E0207", 4, 1) and d.label == "kernel size missing" and "conv 8 3x3" in d.help


@pytest.mark.parametrize("word, meant", [("BatchNorm2d", "bn"), ("Conv2d", "conv"), ("batchnorm", "bn"),
                                         ("AdaptiveAvgPool2d", "global_avgpool"), ("fc", "linear")])
def test_a_layer_type_from_another_tool_is_translated(word, meant):
    d = only(f"c conv 8 3x3\nx {word}\n")
    assert where(d) == ("E0201", 5, 3) and f"`{meant}`" in d.help


def test_a_capitalised_layer_type_is_lowered():
    assert "write `relu`" in only("c conv 8 3x3\na ReLU\n").help


def test_a_type_word_used_as_a_name_is_explained():
    d = only("c conv 8 3x3\nrelu ReLU\n")
    assert where(d) == ("E0206", 5, 6) and "`relu relu`" in d.help


def test_a_failed_layer_does_not_cascade():
    # without the flatten, the linear would be reported too; its input is unknown after the error
    d = only("global_avgpool\nflatten Flatten\nfc linear num_classes\n")
    assert where(d) == ("E0206", 5, 9)


def test_a_failed_named_layer_can_still_be_referred_to():
    d = only("a conv 8 3x3 pad=1 groups=5\nb conv 8 3x3 pad=1 from input\nsum add from a, b\n")
    assert d.code == "E0304"


def test_unused_values_are_not_reported_beside_errors():
    found = diagnostics("a conv 8 3x3 pad=1\nconv 8 3x3 pad=1 from input\nlinear 4\n")
    assert [d.code for d in found] == ["E0305"]


@pytest.mark.parametrize("option, code, expected", [
    ("shortcut=avgpool", "E0209", "choose one of auto, identity, proj, avgdown"),
    ("shortcut=projection", "E0209", "did you mean `proj`?"),
])
def test_a_misspelt_option_word_is_a_bad_choice(option, code, expected):
    d = only(f"stages bottleneck {option}\n  layer1 [1, [[16,1x1],[16,3x3],[64,1x1]]]\n")
    assert d.code == code and d.help == expected


def test_a_misspelt_padding_word():
    d = only("conv 8 3x3 pad=sme\n")
    assert where(d) == ("E0209", 4, 16) and d.help == "did you mean `same`?"


def test_a_second_input_points_at_the_first():
    d = only("input 3x16x16\n")
    assert where(d) == ("E0202", 4, 1) and [n.span.line for n in d.notes] == [2]
    assert "--input" in d.help


def test_a_parameter_declared_twice_points_at_the_first():
    d = only("param num_classes = 5\n")
    assert where(d) == ("E0202", 4, 7) and [n.span.line for n in d.notes] == [3]


@pytest.mark.parametrize("body, line, col", [("conv 8 7*7\n", 4, 8),
                                              ("stages basic\n  layer1 [1, [[3,3*3],[3,3x3]]]\n", 5, 18)])
def test_a_product_of_numbers_is_not_a_size(body, line, col):
    d = only(body)
    assert where(d) == ("E0209", line, col) and "multiplies out to" in d.message and "x" in d.help


def test_a_computed_kernel_is_still_a_kernel():
    assert diagnostics("param k = 3\nconv 8 k*1 pad=1\n") == []


def test_an_input_in_keras_order_is_a_warning():
    found = archdsl.check("network t\ninput 224x224x3\nconv 8 3x3\n")
    assert [(d.code, d.span.line) for d in found] == [("W0402", 2)]
    assert "`input 3x224x224`" in found[0].help
    assert archdsl.check("network t\ninput 1x28x28\nconv 8 3x3\n") == []


@pytest.mark.parametrize("block, name", [
    ("residual r from a\n  conv 8 3x3 pad=1\n", "r"),
    ("scope s from a\n  conv 8 3x3 pad=1\n", "s"),
    ("concat c from a\n  branch\n    conv 8 1x1\n", "c"),
    ("l basic [1, [[8,3x3],[8,3x3]]] from a\n", "l"),
    ("residual r\n  conv 8 3x3 pad=1\n  shortcut from a\n    identity\n", "r"),
])
def test_a_block_starts_from_the_value_its_from_names(block, name):
    text = HEADER + "a conv 8 3x3 pad=1\nb conv 8 1x1 from a\n" + block + f"out add from b, {name}\n"
    assert archdsl.check(text) == []
    graph = archdsl.load(text)
    a = next(n.id for n in graph.nodes() if n.path == "a")
    readers = [n.path for n in graph.nodes() if a in n.inputs]
    assert any(path.startswith(name + ".") for path in readers), readers  # not only `b`


def test_from_on_a_block_is_checked_like_a_layer_s():
    assert where(only("residual r from nothing\n  conv 8 3x3 pad=1\n")) == ("E0204", 4, 17)
    d = only("a conv 8 3x3 pad=1\nl basic [1, [[8,3x3],[8,3x3]]] from a, input\n")
    assert where(d) == ("E0206", 5, 40) and "join several first" in d.help
    assert where(only("stages basic from input\n  l [1, [[3,3x3],[3,3x3]]]\n")) == ("E0206", 4, 19)
    assert archdsl.check("network t from x\ninput 3x8x8\nrelu\n")[0].code == "E0206"


def test_names_torch_modules_already_use_are_refused_and_the_list_is_current():
    from torch import fx, nn

    from archdsl.semantics.reserved import MODULE_ATTRIBUTES, why_reserved
    from cards import CARDS, load_card

    live = fx.GraphModule(nn.Module(), fx.Graph())
    public = {n for n in set(dir(live)) | set(vars(live)) if not n.startswith("_")}
    assert public <= MODULE_ATTRIBUTES, sorted(public - MODULE_ATTRIBUTES)
    for name in ("training", "forward", "graph", "_modules", "self", "None", "lambda"):
        d = only(f"{name} conv 8 3x3 pad=1\n")
        assert where(d) == ("E0213", 4, 1) and "rename it" in d.help
    assert where(only("scope s\n  residual eval\n    conv 3 3x3 pad=1\n")) == ("E0213", 5, 12)
    parts = {part for card in CARDS.glob("*.json") for key, _ in load_card(card.stem)["state_dict"]
             for part in key.split(".")[:-1]}
    assert parts and not [p for p in parts if why_reserved(p)]  # no torchvision or timm name is refused


@pytest.mark.parametrize("line, col, meant", [
    ("conv c/2 3x3 pad=1", 7, "`c // 2`"),           # would be 64 channels at stride 2
    ("conv 64/2 3x3 pad=1", 8, "`64 // 2`"),
    ("conv 16 k pad=k/2", 16, "`k // 2`"),           # would be pad=3 at stride 2
    ("maxpool 3x3 pad=(k+1)/2", 22, "`(k+1) // 2`"),
])
def test_a_slash_meant_as_division_is_not_read_as_a_stride(line, col, meant):
    d = diagnostics(f"param c = 64\nparam k = 3\n{line}\n")[0]
    assert where(d) == ("E0206", 6, col) and meant in d.help


def test_a_stride_after_the_sizes_is_still_a_stride():
    for line in ("conv 16 3x3/2 pad=1", "conv 16 3x3 pad=1 /2", "conv 16 3/2 pad=1", "maxpool 3x3 /2 pad=1"):
        assert archdsl.check(HEADER + line + "\n") == []
        assert archdsl.load(HEADER + line + "\n").output_type.height == 16


def test_a_slash_inside_a_table_says_how_to_divide():
    d = only("param c = 64\nstages basic\n  l [1, [[c/2,3x3],[c,3x3]]]\n")
    assert where(d) == ("E0102", 6, 12) and "//" in d.help


@pytest.mark.parametrize("body, code, col, help", [
    ("residul r\n  conv 8 3x3 pad=1\n", "E0201", 1, "did you mean `residual`?"),
    ("Residual r\n  conv 8 3x3 pad=1\n", "E0201", 1, "write `residual`"),
    ("fc Dense 10\n", "E0201", 4, "archdsl writes `Dense` as `linear`"),
    ("Param k = 3\nrelu\n", "E0201", 1, "write `param`"),
    ("conv 16 3x3 pad=1 // same padding\n", "E0206", 27, "comments start with `#`"),
    ("stages dense\n  d [1, [[8,3x3]]]\n  tr transition compress=1/2\n", "E0206", 27, "`compress=0.5`"),
])
def test_words_from_elsewhere_get_the_archdsl_word(body, code, col, help):
    d = diagnostics(body)[0]
    assert (d.code, d.span.col) == (code, col) and help in d.help, (d.code, d.span.col, d.help)


def test_a_misspelt_input_line_is_pointed_at():
    d = archdsl.check("network t\nInput 3x32x32\nrelu\n")[0]
    assert (d.code, d.span.line, d.span.col) == ("E0212", 2, 1) and d.help.endswith("`input 3x32x32`")


def test_a_window_too_large_for_its_input_names_the_dilation():
    d = only("conv 16 3x3 pad=1 dilation=99\n")
    assert d.code == "E0306" and "dilation 99" in d.message


def test_a_problem_an_option_from_a_default_line_causes_points_at_that_line_too():
    d = only("default conv groups=2 bias=true\nconv 16 3x3\n")
    assert where(d) == ("E0304", 5, 1)
    assert [(n.span.line, n.message) for n in d.notes] == [(4, "`groups` comes from this default")]
    d = only("conv 8 3x3 groups=2\n")  # written on the line itself: no note
    assert d.code == "E0304" and d.notes == ()
