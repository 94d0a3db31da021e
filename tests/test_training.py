"""examples/train_digits.py at a reduced size: a built archdsl model learns sklearn's digits.

Thresholds are set from measurement with margin (width 8, 3 epochs, seeds 0-2: the last
epoch's loss 0.26-0.36 of the first's, held-out accuracy 0.82-0.92 against a chance of 0.10).
"""

import re
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
import train_digits  # noqa: E402

CHANCE = 0.1


@pytest.fixture(autouse=True)
def one_thread():
    """One thread: on a 2-core machine shared with other work, two threads can be 20x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_data_is_the_bundled_digits_split_by_class():
    x_train, y_train, x_test, y_test = train_digits.load_digits_split(0)
    assert x_train.shape == (1437, 1, 8, 8) and x_test.shape == (360, 1, 8, 8)
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert torch.bincount(y_test, minlength=10).min() >= 35  # stratified: every digit held out


def test_loss_falls_and_held_out_accuracy_beats_chance():
    x, y, x_test, y_test = train_digits.load_digits_split(0)
    model = train_digits.make_model(0, width=8)
    untrained = train_digits.accuracy(model, x_test, y_test)
    losses = train_digits.train(model, x, y, epochs=3, seed=0)
    assert losses[-1] < 0.6 * losses[0], losses
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses
    trained = train_digits.accuracy(model, x_test, y_test)
    assert untrained < 3 * CHANCE and trained > 6 * CHANCE, (untrained, trained)


def test_the_documented_command_runs(capsys):
    """`python3 examples/train_digits.py --epochs 3 --width 8` (one thread), run in this process (a fresh
    interpreter would spend longer importing torch than training)."""
    train_digits.main(["--epochs", "3", "--width", "8"])
    printed = capsys.readouterr().out
    assert len(re.findall(r"^epoch +\d+ +train loss \d", printed, re.M)) == 3, printed
    found = re.search(r"held-out accuracy (\d\.\d+) on 360 images", printed)
    assert found and float(found.group(1)) > 6 * CHANCE, printed


def test_docs_show_the_spec_that_trains():
    """docs/training.md's first code block is examples/digits.arch, less its comments."""
    doc = (ROOT / "docs" / "training.md").read_text()
    shown = re.search(r"```\n(network .*?)```", doc, re.S).group(1)
    spec = "".join(line for line in train_digits.SPEC.read_text().splitlines(keepends=True)
                   if not line.startswith("#"))
    assert shown == spec
