"""'did you mean' stays useful on ordinary typos and bounded on specs full of unknown names (issue 15 item 3)."""

import difflib
import sys

import pytest

from archdsl.api import analyse
from archdsl.diagnostics import MAX_COMPARED, MAX_SEARCHES, Source, did_you_mean
from conftest import ROOT

sys.path.insert(0, str(ROOT))
from bench.check_scaling import unknown_params, unknown_values  # noqa: E402

LAYERS = [f"layer{i}" for i in range(1000)] + [f"stage{i}_block{j}" for i in range(10) for j in range(30)]


@pytest.mark.parametrize("typo, meant", [("layr517", "layer517"), ("laeyr517", "layer517"), ("lyer9", "layer9"),
                                         ("layer0999", "layer999"), ("Layer42", "layer42"),
                                         ("stgae3_block22", "stage3_block22"), ("stage3_blokc22", "stage3_block22"),
                                         ("stage3block22", "stage3_block22")])
def test_a_typo_among_many_names_still_gets_its_suggestion(typo, meant):
    assert did_you_mean(typo, LAYERS) == f"did you mean `{meant}`?"


class Counted:
    """difflib.get_close_matches, counting its calls and the most names one call compared."""

    def __init__(self):
        self.calls, self.widest, self.real = 0, 0, difflib.get_close_matches

    def __call__(self, word, possibilities, *args, **kwargs):
        possibilities = list(possibilities)
        self.calls += 1
        self.widest = max(self.widest, len(possibilities))
        return self.real(word, possibilities, *args, **kwargs)


@pytest.mark.parametrize("make, code", [(unknown_values, "E0204"), (unknown_params, "E0205")])
def test_unknown_names_at_the_token_limit_make_a_bounded_search(monkeypatch, make, code):
    counted = Counted()
    monkeypatch.setattr(difflib, "get_close_matches", counted)
    _, diagnostics = analyse(Source("many.arch", make(20_000)))
    unknown = [d for d in diagnostics if d.code == code]
    assert len(unknown) > 3000
    assert counted.calls <= MAX_SEARCHES + 5 and counted.widest <= MAX_COMPARED
    assert sum("did you mean" in d.help for d in unknown) == MAX_SEARCHES  # the first ones, all shown
    assert "did you mean `abcdefgh0`?" in unknown[0].help
    assert all(d.help for d in unknown)  # the rest get the generic hint


def test_the_budget_is_per_check():
    text = unknown_values(2_000)
    first, second = (analyse(Source("a.arch", text))[1] for _ in range(2))
    assert [d.help for d in first] == [d.help for d in second]
