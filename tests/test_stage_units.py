"""`stage_unit` / `stage_units`: a unit's index among a `stages` section's units and their number.
Only the section's own rows make units; the blocks a unit's body uses do not advance the count."""

import archdsl
from archdsl.ir import nodes as N
from test_checks import HEADER

SPEC = HEADER + """
block inner out
  conv out 1x1

block unit_block out
  inner out
  inner out
  stochastic_depth stochastic_depth div(stage_unit, stage_units)

stages
  a unit_block 8 repeat=2
  b unit_block 8 repeat=3
"""


def test_stage_units_count_the_section_s_rows_only():
    graph = archdsl.load(SPEC)
    rates = {n.path: n.p for n in graph.nodes() if isinstance(n, N.StochasticDepth)}
    assert rates == {f"{row}.{i}.stochastic_depth": (j / 5) for j, (row, i) in
                     enumerate([("a", 0), ("a", 1), ("b", 0), ("b", 1), ("b", 2)])}


def test_a_block_used_inside_a_unit_counts_its_own_units():
    graph = archdsl.load(SPEC.replace("  conv out 1x1", "  conv out 1x1\n  stochastic_depth stochastic_depth "
                                      "div(stage_unit + 1, stage_units + 1)"))
    inner = {n.path: n.p for n in graph.nodes() if isinstance(n, N.StochasticDepth)
             and n.path.count(".") == 3}
    assert len(inner) == 10 and set(inner.values()) == {0.5}
