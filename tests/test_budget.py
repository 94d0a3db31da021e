"""The resource budget: parameters (E0501), activation memory (E0502) and IR nodes (E0503) are
checked on the IR before anything is allocated, with the figure the network needs."""

import re
import time

import pytest

import archdsl
from archdsl.cli import main
from archdsl.diagnostics import ArchError, Source, render
from archdsl.limits import (DEFAULT_MAX_ACTIVATION_BYTES, DEFAULT_MAX_NODES, DEFAULT_MAX_PARAMS, Limits, parse_bytes,
                            parse_count, show_bytes)
from archdsl.backends.summary.table import totals
from conftest import ROOT, bundled_specs, spec_path

#: the spec from the issue: 100,000 bottlenecks of 4096/4096/16384 channels (73 s and 28 trillion
#: parameters before the budget)
HUGE_ROW = ("network t\ninput 3x224x224\nstages bottleneck\n"
            "  layer1 [100000, [[4096,1x1],[4096,3x3],[16384,1x1]]]\n")
#: conv1 3->4096, conv2 4096->4096 3x3, conv3 4096->16384, their norms, and a 3->16384 projection
FIRST_BLOCK = 4096 * 3 + 4096 * 4096 * 9 + 16384 * 4096 + 2 * (4096 + 4096 + 16384) + 16384 * 3 + 2 * 16384
#: the same from 16384 channels, with the identity shortcut
LATER_BLOCK = 4096 * 16384 + 4096 * 4096 * 9 + 16384 * 4096 + 2 * (4096 + 4096 + 16384)
SMALL = "network small\ninput 3x32x32\nparam width = 8\nconv width 3x3 pad=1\nbn\nrelu\nglobal_avgpool\nflatten\nlinear 10\n"


def errors(text, name="t.arch", **kwargs):
    return [d for d in archdsl.check(Source(name, text), **kwargs) if d.is_error]


def test_the_issue_spec_is_rejected_with_its_figure_before_it_is_built():
    started = time.perf_counter()
    found = errors(HUGE_ROW)
    assert time.perf_counter() - started < 10  # a hang guard only: it used to take 73 s
    params = FIRST_BLOCK + 99_999 * LATER_BLOCK
    assert params == 28_526_115_385_344
    first = found[0]
    assert first.code == "E0501"
    assert first.message == f"the network needs at least {params:,} parameters, over the limit of 3,000,000,000"
    assert (first.span.line, first.span.col) == (4, 3)
    assert first.label == f"`layer1`: 100,000 blocks of at least {LATER_BLOCK:,} parameters"
    assert "--max-params" in first.help
    assert [d.code for d in found] == ["E0501", "E0502"]  # one image's activations do not fit either


def test_parameters_over_the_limit_report_the_exact_total_where_it_is_passed():
    graph = archdsl.load(spec_path("resnet18"))
    (found,) = errors(spec_path("resnet18").read_text(), limits=Limits(params=5_000_000))
    assert found.code == "E0501"
    assert found.message == "the network needs 11,689,512 parameters, over the limit of 5,000,000"
    assert totals(graph).params == 11_689_512
    assert found.label == "passes the limit at `layer4.0.conv2`"
    assert found.span.line == 16  # layer4's row, at its second conv entry


def test_activation_memory_over_the_limit_reports_the_summary_figure():
    graph = archdsl.load(spec_path("resnet18"))
    need = totals(graph).activation_bytes
    (found,) = errors(spec_path("resnet18").read_text(), limits=Limits(activation_bytes=10 * 2**20))
    assert found.code == "E0502"
    assert found.message == (f"the network needs {show_bytes(need)} of activation memory for one fp32 image "
                             f"({need:,} bytes), over the limit of 10 MiB")
    assert "--max-activations" in found.help and found.span is not None


def test_a_larger_input_needs_more_activation_memory():
    text = spec_path("resnet50").read_text()
    assert errors(text, input_size=(512, 512)) == []
    (found,) = errors(text, input_size=(4096, 4096))
    assert found.code == "E0502" and "--input" in found.help


def test_the_node_cap_stops_a_hand_written_network_at_once():
    text = "network t\ninput 3x8x8\n" + "relu\n" * 60
    (found,) = errors(text, limits=Limits(nodes=50))
    assert found.code == "E0503"
    assert found.message == "the network needs at least 51 IR nodes, over the limit of 50"
    assert found.span.line == 2 + 50 and found.label == "checking stopped at `49`"
    assert "--max-nodes" in found.help


def test_a_long_stage_row_is_projected_after_two_blocks():
    text = "network t\ninput 3x8x8\nstages basic\n  l [5000, [[4,3x3],[4,3x3]]]\n"
    found = archdsl.check(Source("t.arch", text))
    assert [d.code for d in found] == ["E0503"]  # one diagnostic: nothing after the stop
    # block 0 projects its input (9 nodes), the others 7: conv, bn, relu, conv, bn, add, relu
    assert found[0].message == f"the network needs at least {1 + 9 + 4999 * 7:,} IR nodes, over the limit of 20,000"
    assert found[0].label == "`l`: 5,000 blocks of at least 7 IR nodes"


def test_the_projection_of_uniform_blocks_is_the_exact_figure():
    text = "network t\ninput 3x32x32\nstages bottleneck\n  l [12, [[64,1x1],[64,3x3],[256,1x1]]]\n"
    exact = totals(archdsl.load(Source("t.arch", text))).params
    (found,) = errors(text, limits=Limits(params=exact - 1))
    assert f"needs at least {exact:,} parameters" in found.message


def test_limits_are_keyword_only_and_do_not_clash_with_spec_parameters():
    assert errors(SMALL, width=16, limits=Limits(params=100))[0].code == "E0501"
    assert errors(SMALL, width=16) == []
    with pytest.raises(ArchError) as raised:
        archdsl.load(SMALL, limits=Limits(nodes=3))
    assert [d.code for d in raised.value.diagnostics] == ["E0503"]


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, 10**19, "5M"])
def test_limits_must_be_positive_whole_numbers(bad):
    with pytest.raises(ValueError):
        Limits(params=bad)


def test_build_enforces_the_budget_before_torch_allocates(monkeypatch):
    import archdsl.backends.torch

    def no_lowering(*args, **kwargs):
        raise AssertionError("lowered a network over the budget")

    monkeypatch.setattr(archdsl.backends.torch, "lower", no_lowering)
    with pytest.raises(ArchError) as raised:
        archdsl.build(HUGE_ROW)
    assert raised.value.diagnostics[0].code == "E0501"
    loaded = archdsl.load(SMALL, limits=Limits(params=10**6))
    with pytest.raises(ArchError) as raised:  # a Graph loaded with other limits meets build's own
        archdsl.build(loaded, limits=Limits(params=100))
    assert [d.code for d in raised.value.diagnostics] == ["E0501"]


def test_build_within_the_budget_still_works():
    graph = archdsl.load(SMALL)
    module = archdsl.build(graph, limits=Limits(params=10**6))
    assert sum(p.numel() for p in module.parameters()) == totals(graph).params


def test_the_defaults_leave_twenty_times_the_largest_bundled_spec():
    graphs = [archdsl.load(path) for path in bundled_specs()]
    figures, nodes = [totals(g) for g in graphs], [len(g) for g in graphs]
    assert 20 * max(t.params for t in figures) <= DEFAULT_MAX_PARAMS
    # dense prediction (an output map of the input's size: U-Net, FCN, DeepLabV3, LR-ASPP) keeps maps at 1/8
    # of a 520x520 input: each spec at its defaults (the ResNet-50 variants, 1.8 GiB for one image)
    # has room for twice that side (docs/language.md, Limits)
    dense = [is_dense(g) for g in graphs]
    assert 20 * max(t.activation_bytes for t, d in zip(figures, dense) if not d) <= DEFAULT_MAX_ACTIVATION_BYTES
    assert 4 * max(t.activation_bytes for t, d in zip(figures, dense) if d) <= DEFAULT_MAX_ACTIVATION_BYTES
    assert 20 * max(nodes) <= DEFAULT_MAX_NODES


def is_dense(graph) -> bool:
    t, out = graph.input_type, graph.output_types[0]
    return not out.is_flat and (out.height, out.width) == (t.height, t.width)


@pytest.mark.parametrize("text, value", [("25e6", 25_000_000), ("2_000_000", 2_000_000), ("1.5G", 1_500_000_000),
                                         ("300M", 300_000_000), ("2B", 2 * 10**9), ("7", 7), ("12k", 12_000)])
def test_counts_are_read_as_people_write_them(text, value):
    assert parse_count(text) == value


@pytest.mark.parametrize("text, value", [("8GiB", 8 * 2**30), ("512MiB", 512 * 2**20), ("16GB", 16 * 10**9),
                                         ("1e9", 10**9), ("1.5 GiB", 3 * 2**29), ("4096", 4096)])
def test_sizes_are_read_as_people_write_them(text, value):
    assert parse_bytes(text) == value


@pytest.mark.parametrize("text", ["", "abc", "0", "-5", "5x", "1e30", "nan", "inf", "1__0_", "8 GiBs", "1" * 80])
def test_bad_counts_and_sizes_are_refused(text):
    with pytest.raises(ValueError):
        parse_count(text)
    with pytest.raises(ValueError):
        parse_bytes(text)


def test_cli_flags_lower_and_raise_the_limits(capsys):
    spec = str(spec_path("resnet18"))
    assert main(["compile", spec, "--check", "--max-params", "5M"]) == 1
    assert "error[E0501]: the network needs 11,689,512 parameters, over the limit of 5,000,000" in capsys.readouterr().err
    assert main(["compile", spec, "--check", "--max-params", "12e6", "--max-activations", "40MiB",
                 "--max-nodes", "71"]) == 0
    assert capsys.readouterr().out.startswith("ok: resnet18: 11,689,512 parameters")
    assert main(["compile", spec, "--check", "--max-activations", "30MiB"]) == 1
    assert "error[E0502]" in capsys.readouterr().err
    assert main(["compile", spec, "--check", "--max-nodes", "70"]) == 1
    assert "error[E0503]" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["summary"], ["render", "-o", "out.dot"], ["compile", "--check"],
                                     ["compile", "--emit", "ir"]])
def test_every_spec_command_takes_the_limits(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "huge.arch"
    spec.write_text(HUGE_ROW)
    assert main([command[0], str(spec), *command[1:]]) == 1
    err = capsys.readouterr().err
    assert "error[E0501]" in err and f"--> {spec}:4:3" in err
    assert main([command[0], str(spec_path("resnet18")), *command[1:], "--max-params", "1M"]) == 1
    assert "error[E0501]" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value", [("--max-params", "lots"), ("--max-params", "0"),
                                         ("--max-activations", "8 parsecs"), ("--max-nodes", "-3")])
def test_bad_limit_flags_are_usage_errors(flag, value, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["compile", str(spec_path("resnet18")), "--check", flag, value])
    assert exited.value.code == 2
    assert f"argument {flag}: expected" in capsys.readouterr().err


def test_compile_builds_the_module_under_the_limits_it_checked(capsys):
    assert main(["compile", str(spec_path("resnet18")), "--emit", "code", "--max-params", "12M"]) == 0
    assert "def forward(self, x):" in capsys.readouterr().out


def test_the_limits_section_of_the_language_doc_shows_the_real_diagnostic():
    doc = (ROOT / "docs" / "language.md").read_text()
    shown = re.search(r"```text\n(error\[E0501\].*?)```", doc, re.S).group(1)
    assert shown == render(errors(HUGE_ROW, name="huge.arch")[0]) + "\n"
    assert archdsl.Limits is Limits
