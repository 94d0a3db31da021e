"""`archdsl render`: diagrams from the IR at three depths, as DOT, Mermaid and (with Graphviz) images."""

import re
import shutil
import subprocess
import sys

import pytest

import archdsl
from archdsl.cli import main
from archdsl.backends.diagram.dot import to_dot
from tools.gallery import image_name, regenerate
from archdsl.backends.diagram.mermaid import to_mermaid
from archdsl.backends.diagram.style import COLOURS
from archdsl.backends.diagram.view import Box, Cluster, build_view
from archdsl.backends.summary.table import totals
from conftest import ROOT, SPECS, bundled_specs, spec_path
from test_summary import dense_spec

ALL = bundled_specs()
IDS = [str(p.relative_to(ROOT)) for p in ALL]
HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not installed")


def boxes_by_title(view):
    return {b.title: b for b in view.boxes()}


def clusters(items):
    for item in items:
        if isinstance(item, Cluster):
            yield item
            yield from clusters(item.items)


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_every_spec_renders_to_dot_and_mermaid(path, tmp_path):
    for suffix in (".dot", ".mmd"):
        out = tmp_path / f"net{suffix}"
        assert main(["render", str(path), "-o", str(out)]) == 0
        text = out.read_text()
        assert archdsl.load(path).name in text
    mermaid = (tmp_path / "net.mmd").read_text()
    defined = set(re.findall(r"^\s*(n\d+)[\[(]", mermaid, re.M))
    used = set(re.findall(r"(n\d+) -\.?->\|", mermaid)) | set(re.findall(r"\| (n\d+)$", mermaid, re.M))
    assert used <= defined
    assert mermaid.count("subgraph ") == len(re.findall(r"^\s*end$", mermaid, re.M))


@needs_dot
@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_every_spec_draws_as_svg(path, tmp_path):
    out = tmp_path / "net.svg"
    assert main(["render", str(path), "-o", str(out)]) == 0
    assert out.read_text().lstrip().startswith(("<?xml", "<svg"))


@needs_dot
def test_png_and_pdf(tmp_path):
    for suffix, magic in ((".png", b"\x89PNG"), (".pdf", b"%PDF")):
        out = tmp_path / f"net{suffix}"
        assert main(["render", str(spec_path("resnet18")), "-o", str(out), "--rankdir", "LR"]) == 0
        assert out.read_bytes().startswith(magic)


def test_stage_depth_draws_each_stage_as_one_box():
    view = build_view(archdsl.load(spec_path("resnet50")), "stage")
    boxes = boxes_by_title(view)
    assert boxes["layer3"].text == "bottleneck x6"
    assert boxes["layer3"].cost.params == 7_098_368
    assert not list(clusters(view.items))
    into = {(e.target, e.label) for e in view.edges}
    assert (boxes["layer3"].id, "512x28x28") in into  # edges carry tensor shapes


def test_block_depth_clusters_stages_and_folds_repeats():
    view = build_view(archdsl.load(spec_path("resnet50")), "block")
    stage = next(c for c in clusters(view.items) if c.title == "layer3")
    assert stage.text == "bottleneck x6"
    assert [(b.title, b.text) for b in stage.items] == [("layer3.0", "bottleneck"), ("layer3.1..5", "bottleneck x5")]
    assert len(view.boxes()) < 25


def test_layer_depth_draws_one_repeated_block_with_its_shortcuts():
    graph = archdsl.load(spec_path("resnet18"))
    view = build_view(graph, "layer")
    folded = next(c for c in clusters(view.items) if c.title == "layer1.0..1")
    assert folded.text == "basic x2"
    assert [b.title for b in folded.items if isinstance(b, Box)][:3] == ["conv1", "bn1", "relu"]
    shortcuts = [e for e in view.edges if e.shortcut]
    titles = {b.id: b.title for b in view.boxes()}
    assert {titles[e.source] for e in shortcuts} >= {"maxpool", "downsample.0", "downsample.1"}
    assert {titles[e.target] for e in shortcuts} == {"add", "downsample.0", "downsample.1"}
    assert len(view.boxes()) < len(graph)  # the second block of layer1 is not drawn again


def test_nested_clusters_are_named_within_their_parent():
    view = build_view(archdsl.load(dense_spec()), "layer")
    titles = [c.title for c in clusters(view.items)]
    assert titles == ["features", "denseblock1", "denselayer1..4", "denselayer1.1"]
    # the identity branch is one op: drawn as a box, not a cluster around one box
    assert "identity" in {b.text for b in view.boxes()}


def test_dot_text_has_title_totals_colours_params_and_dashed_shortcuts():
    graph = archdsl.load(spec_path("resnet50"))
    dot = to_dot(build_view(graph, "layer"))
    t = totals(graph)
    assert "25.6M params" in dot and f"{t.macs / 1e9:.3f}G MACs" in dot
    assert f'fillcolor="{COLOURS["conv"][0]}"' in dot and f'fillcolor="{COLOURS["norm"][0]}"' in dot
    assert "style=dashed" in dot and "subgraph cluster_" in dot
    assert "2.0M params" in dot  # fc


def test_mermaid_marks_shortcuts_and_colours():
    text = to_mermaid(build_view(archdsl.load(spec_path("resnet18")), "layer"), "LR")
    assert text.startswith("---\ntitle: ") and "flowchart LR" in text
    assert "-.->" in text and "classDef k_conv fill:" in text


def test_missing_dot_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["render", str(spec_path("resnet18")), "-o", str(tmp_path / "net.png")]) == 1
    err = capsys.readouterr().err
    assert "error[E0005]" in err and "`dot`" in err and "apt-get install graphviz" in err
    assert not (tmp_path / "net.png").exists()
    assert main(["render", str(spec_path("resnet18")), "-o", str(tmp_path / "net.dot")]) == 0


def test_bad_output_names_and_folders(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["render", str(spec_path("resnet18")), "-o", str(tmp_path / "net.jpg")])
    assert exc.value.code == 2
    assert main(["render", str(spec_path("resnet18")), "-o", str(tmp_path / "missing" / "net.dot")]) == 1
    assert "error[E0004]" in capsys.readouterr().err


def test_spec_errors_give_diagnostics_and_exit_1(tmp_path, capsys):
    spec = tmp_path / "bad.arch"
    spec.write_text("network t\ninput 3x32x32\nconv 8 3x3\nfc linear 10\n")
    assert main(["render", str(spec), "-o", str(tmp_path / "net.dot")]) == 1
    assert "error[E0305]" in capsys.readouterr().err


def test_render_to_text_does_not_import_torch_or_graphviz(tmp_path):
    code = ("import sys; from archdsl.cli import main; rc = main(['render', %r, '-o', %r]); "
            "print('torch' in sys.modules, 'graphviz' in sys.modules, rc)"
            % (str(spec_path("resnet50")), str(tmp_path / "n.mmd")))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert out.strip().splitlines()[-1] == "False False 0"


def test_gallery_shows_every_bundled_spec():
    page = (ROOT / "docs" / "gallery.md").read_text()
    assert "python3 -m tools.gallery" in page
    for path in ALL:
        name = image_name(path, SPECS)
        assert f"(gallery/{name})" in page, f"{name} missing: run python3 -m tools.gallery"
        assert (ROOT / "docs" / "gallery" / name).stat().st_size < 400_000


@needs_dot
def test_gallery_command_redraws_and_drops_stale_images(tmp_path):
    (tmp_path / "specs" / "seeds").mkdir(parents=True)
    shutil.copy(spec_path("resnet18"), tmp_path / "specs" / "resnet18.arch")
    shutil.copy(spec_path("resnet50d"), tmp_path / "specs" / "seeds" / "d.arch")
    (tmp_path / "docs" / "gallery").mkdir(parents=True)
    (tmp_path / "docs" / "gallery" / "gone.png").write_bytes(b"old")
    assert regenerate(tmp_path) == 0
    assert sorted(p.name for p in (tmp_path / "docs" / "gallery").iterdir()) == ["resnet18.png", "seeds-d.png"]
    page = (tmp_path / "docs" / "gallery.md").read_text()
    assert "![resnet18 at block depth](gallery/resnet18.png)" in page and "(gallery/seeds-d.png)" in page


def test_label_lines_are_table_rows_so_underscores_do_not_strike_the_next_line():
    """Lines joined by <br/> sit so close that, at the gallery's 96 dpi, a bold title's underscore
    (`resnet_block1`) is drawn through the line below it; each line gets its own table row."""
    dot = to_dot(build_view(archdsl.load(SPECS / "seeds" / "d2l_resnet18.arch"), "block"))
    assert "<br" not in dot  # no line breaks in any label
    assert ("<tr><td><b>resnet_block2.0</b></td></tr><tr><td>residual</td></tr>"
            '<tr><td><font point-size="9" color="#444444">230.3K params · 33.0M MACs</font></td></tr>') in dot
    assert ('<tr><td align="left"><b>resnet_block2</b></td></tr><tr><td align="left">residual x2</td></tr>'
            in dot)
