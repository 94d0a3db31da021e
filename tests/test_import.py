"""`archdsl import` and archdsl.from_module: plain-PyTorch modules (tests/import_nets.py) written out as
specs that check clean, have the module's state_dict keys and shapes and compute the same outputs with its
weights in eval and training mode; torchvision's layouts held to the reference cards; refusals."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import archdsl
import import_nets
from archdsl.backends.importer import import_module
from archdsl.cli import main
from archdsl.diagnostics import ArchError
from cards import card_input, fill, load_card, relative_error
from conftest import ROOT, spec_path

NETS = Path(import_nets.__file__)


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    """A folder holding the user's `mymodule.py` (tests/import_nets.py), as the current folder."""
    shutil.copy(NETS, tmp_path / "mymodule.py")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mymodule", raising=False)
    return tmp_path


def _same_function(text: str, source: torch.nn.Module, shape) -> None:
    """The spec builds, takes the source's weights strictly and gives its outputs in both modes."""
    assert archdsl.check(text) == []
    built = archdsl.build(text)
    assert {k: v.shape for k, v in built.state_dict().items()} == {k: v.shape for k, v in source.state_dict().items()}
    built.load_state_dict(source.state_dict(), strict=True)
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(3))
    for train in (False, True):
        built.train(train)
        source.train(train)
        with torch.no_grad():
            torch.manual_seed(0)
            ours = built(x)
            torch.manual_seed(0)
            theirs = source(x)
        assert torch.equal(ours, theirs), (train, float((ours - theirs).abs().max()))


def test_a_users_unet_round_trips_with_blocks_for_its_repeated_modules():
    source = import_nets.make_unet()
    text = archdsl.from_module(source, (1, 64, 64), check_roundtrip=False)  # checked here, more strictly
    _same_function(text, source, (1, 64, 64))
    assert "block double_conv c\n" in text and "block down c\n" in text
    assert "down3 down 64" in text
    # Up reads its skip from outside: a parameter, passed by the name of the module that made it
    assert "block up skip c\n" in text and "  concat from skip, up\n" in text
    assert "up1   up down2 32\n" in text and "up3   up inc 8\n" in text


def test_the_cli_imports_a_users_module_and_reports_the_round_trip(user_folder, capsys):
    assert main(["import", "mymodule:make_unet", "-o", "unet.arch", "--input", "1x64x64", "--name", "my_unet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: wrote unet.arch: ") and "max abs diff 0.0e+00 in eval mode" in out
    text = (user_folder / "unet.arch").read_text()
    assert "network my_unet\ninput 1x64x64\n" in text
    assert main(["compile", "unet.arch", "--check"]) == 0


@pytest.mark.parametrize("make, card, bundled", [(import_nets.ResNet18, "resnet18", "resnet18"),
                                                 (import_nets.MobileNetV2, "mobilenet_v2", "mobilenet_v2")])
def test_torchvision_layouts_import_to_the_reference_cards(make, card, bundled):
    """At the cards' odd size (97x97): same keys and shapes, same logits under the fill rule."""
    reference = load_card(card)
    text = archdsl.from_module(make(), (3, 97, 97), check_roundtrip=False)  # the card is the check
    model = archdsl.build(text)
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == dict(reference["state_dict"])
    fill(model)
    model.eval()
    with torch.no_grad():
        logits = model(card_input(reference["odd_input_shape"], seed=1))
    assert relative_error(logits, reference["odd_logits"]) < 1e-4
    assert len(text.splitlines()) <= 3 * len(spec_path(bundled).read_text().splitlines())


def test_runs_of_one_block_become_rows():
    text = archdsl.from_module(import_nets.MobileNetV2(), (3, 64, 64), check_roundtrip=False)
    assert "block inverted_residual " in text
    assert "repeat=3 names=flat" in text  # features.11..13: three units of one block


def test_splits_and_channel_shuffles_import_as_the_languages_split_and_shuffle():
    source = import_nets.TinyShuffleNet()
    text = archdsl.from_module(source, (3, 32, 32), check_roundtrip=False)
    _same_function(text, source, (3, 32, 32))
    assert "parts split 2\n" in text and "concat from parts.0, branch" in text and "  shuffle 2\n" in text
    assert "units half_unit repeat=3" in text
    assert "global_avgpool\nflatten\n" in text  # x.mean([2, 3])


def test_dense_blocks_become_the_built_in_dense_and_transition_rows():
    source = import_nets.TinyDenseNet()
    text = archdsl.from_module(source, (3, 16, 16), check_roundtrip=False)
    _same_function(text, source, (3, 16, 16))
    assert "  denseblock1 dense [3, [[16,1x1],[4,3x3]]]\n" in text
    assert "  transition1 transition compress=0.5\n" in text and "block " not in text


def test_a_module_with_a_dashed_name_is_the_use_of_a_block():
    """RegNet names its blocks `block1-0`: a statement may carry that name, a scope may not."""
    source = torch.nn.Sequential()
    source.add_module("block1-0", import_nets.DoubleConv(3, 8))
    source.add_module("head_conv", torch.nn.Conv2d(8, 4, 1))
    text = archdsl.from_module(source, (3, 16, 16), check_roundtrip=False)
    _same_function(text, source, (3, 16, 16))
    assert "block1-0  double_conv\n" in text


def _refusal(module, shape=(3, 32, 32)):
    with pytest.raises(ArchError) as caught:
        archdsl.from_module(module, shape)
    (diagnostic,) = caught.value.diagnostics
    return diagnostic


def _line_of(marker: str) -> int:
    return next(i for i, line in enumerate(NETS.read_text().splitlines(), 1) if marker in line)


@pytest.mark.parametrize("module, code, words, marker", [
    (import_nets.BranchesOnValues(), "E0803", "torch.fx cannot trace", "control flow on a tensor's value"),
    (import_nets.UsesAnUnknownOp(), "E0802", "no layer for method Tensor.cumsum", "the importer has no cumsum"),
    (import_nets.TrainsDifferently(), "E0803", "in training mode than in eval mode", "only training runs this"),
])
def test_what_cannot_be_written_is_refused_at_the_users_line(module, code, words, marker):
    d = _refusal(module)
    assert d.code == code and words in d.message and d.help
    assert d.span is not None and d.span.file == str(NETS) and d.span.line == _line_of(marker)


def test_a_layer_named_like_a_word_of_the_language_is_refused():
    d = _refusal(import_nets.TinyShuffleNet(classifier="head"))
    assert d.code == "E0805" and d.message.startswith("`head` is named `head`, a word that starts a statement")
    assert d.span.line == _line_of("a word of the language")


def test_dropout_that_follows_the_mode_round_trips_in_training_mode():
    source = import_nets.FunctionalDropout()
    text = archdsl.from_module(source, (12, 8, 8), check_roundtrip=False)
    _same_function(text, source, (12, 8, 8))  # in training mode: the same dropout mask from the same seed
    assert "dropout 0.3\n" in text


def test_dropout_that_ignores_the_mode_is_refused():
    d = _refusal(import_nets.AlwaysDrops(), (12, 8, 8))
    assert d.code == "E0802" and "F.dropout with training=True in eval mode" in d.message
    assert d.span.line == _line_of("drops in eval mode too")


def test_shared_weights_are_refused_naming_the_module():
    d = _refusal(import_nets.SharesWeights(), (8, 16, 16))
    assert d.code == "E0805" and d.message.startswith("`conv` (Conv2d) is called 2 times")
    assert d.span.line == _line_of("one conv's weights used twice")


def test_a_refused_import_writes_no_file(user_folder, capsys):
    assert main(["import", "mymodule:UsesAnUnknownOp", "-o", "net.arch", "--input", "3x32x32"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error[E0802]: the forward (in UsesAnUnknownOp.forward): the importer has no layer for method Tensor.cumsum")
    assert "mymodule.py:" in err and "^" in err
    assert not (user_folder / "net.arch").exists() and not (user_folder / "net.arch.part").exists()


@pytest.mark.parametrize("source, words", [
    ("mymodule", "expected torchvision:NAME, timm:NAME or package.module:callable"),
    ("no_such_module_here:make", "cannot import `no_such_module_here`"),
    ("mymodule:make_unett", "`mymodule` has no `make_unett`"),
    ("mymodule:NETS_DOC", "not a function or class"),
    ("mymodule:make_unet(base=8)", "failed: TypeError"),
])
def test_a_source_that_names_no_module_is_refused(source, words, user_folder, capsys):
    (user_folder / "mymodule.py").write_text(NETS.read_text() + "\nNETS_DOC = 'a string'\n")
    assert main(["import", source, "-o", "net.arch"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error[E0801]") and words in err, err
    assert not (user_folder / "net.arch").exists()


def test_a_zoo_that_is_not_installed_is_named(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(__import__("sys").modules, "timm", None)  # as if timm were not installed
    assert main(["import", "timm:resnet50", "-o", str(tmp_path / "r.arch")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error[E0801]: `timm:resnet50` needs timm, which is not installed")


def test_without_the_round_trip_nothing_is_built():
    result = import_module(import_nets.UNet(), (1, 32, 32), check_roundtrip=False)
    assert result.round_trip is None and result.text.startswith("# imported from import_nets.UNet")


def test_refusals_are_json_when_asked(user_folder, capsys):
    assert main(["import", "mymodule:SharesWeights", "-o", "net.arch", "--input", "8x16x16", "--format", "json"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    record = json.loads(line)
    assert record["code"] == "E0805" and record["file"].endswith("mymodule.py") and record["help"]


def test_importing_without_torch_says_how_to_get_it():
    code = ("import sys; sys.modules['torch'] = None\n"  # as if torch were not installed
            "from archdsl.cli import main\n"
            "sys.exit(main(['import', 'tests.import_nets:make_unet', '-o', 'never.arch']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error[E0006]: importing a PyTorch module needs PyTorch")
    assert not (ROOT / "never.arch").exists()


def test_an_output_that_cannot_be_written_is_e0004(user_folder, capsys):
    assert main(["import", "mymodule:make_unet", "-o", "missing/unet.arch", "--input", "1x32x32",
                 "--no-check-roundtrip"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error[E0004]: cannot write `missing/unet.arch`") and "Traceback" not in err


def test_the_worked_user_example_in_docs_is_what_the_importer_writes():
    doc = (ROOT / "docs" / "import.md").read_text()
    shown = doc.split("# imported from mymodule:make_unet by `archdsl import`\n", 1)[1].split("```", 1)[0]
    text = archdsl.from_module(import_nets.make_unet(), (1, 64, 64), check_roundtrip=False)
    assert text.split("\n", 1)[1] == shown
