"""Two things a segmentation spec needs: a value inside a `scope` read after it as `SCOPE.NAME` (the
auxiliary head reads `backbone.layer3`), and outputs chosen by a parameter (`output` as the last
statement of the branches of a top-level `if`)."""

import pytest

import archdsl

SPEC = """network t
input 3x32x32
param aux = true

scope backbone
  c1 conv 4 3x3 /2 pad=1
  scope inner
    c2 conv 4 3x3 /2 pad=1
score conv 2 1x1
out upsample to=input
if aux
  side conv 2 1x1 from backbone.inner.c2
  output from out, side
else
  output from out
"""


def test_a_scope_s_values_are_read_after_it_by_their_dotted_names():
    graph = archdsl.load(SPEC.replace("backbone.inner.c2", "backbone.c1"))
    side = next(n for n in graph.nodes() if n.path == "side")
    assert graph[side.inputs[0]].path == "backbone.c1"
    graph = archdsl.load(SPEC)
    side = next(n for n in graph.nodes() if n.path == "side")
    assert graph[side.inputs[0]].path == "backbone.inner.c2"


def test_an_inner_name_alone_is_still_unknown_outside():
    found = archdsl.check(SPEC.replace("backbone.inner.c2", "c1"))
    assert [d.code for d in found] == ["E0204"] and "`backbone.c1`" in found[0].help


@pytest.mark.parametrize("aux, names", [(True, ["out", "side"]), (False, ["out"])])
def test_a_parameter_chooses_the_outputs(aux, names):
    graph = archdsl.load(SPEC, aux=aux)
    assert graph.output_names == names
    assert ("side" in {n.path for n in graph.nodes()}) == aux


def test_mistakes_in_a_chosen_branch_are_reported():
    found = archdsl.check(SPEC.replace("output from out, side", "output from out, nowhere"))
    assert [d.code for d in found] == ["E0204"] and found[0].span.line == 13
    found = archdsl.check(SPEC.replace("  output from out\n", "  output from out\n  conv 2 1x1\n"), aux=False)
    assert [d.code for d in found] == ["E0210"]
