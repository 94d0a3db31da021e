"""Every bundled spec checks cleanly, builds, and runs forward on a small input."""

import pytest
import torch

import archdsl
import archdsl.api
from conftest import ROOT, bundled_specs

SPECS = bundled_specs()


@pytest.mark.parametrize("path", SPECS, ids=[str(p.relative_to(ROOT)) for p in SPECS])
def test_spec_checks_builds_and_runs(path):
    assert [d for d in archdsl.check(path) if d.is_error] == []
    graph = archdsl.load(path)
    size, small = _small(path, graph)
    model = archdsl.build(small, init=False).eval()
    with torch.no_grad():
        out = model(torch.randn(2, small.input_type.channels, size, size))
    outs = out if small.output.names is not None else [out]  # `output from a, b` returns a list
    assert len(outs) == len(small.output_types)
    for y, t in zip(outs, small.output_types):
        assert tuple(y.shape) == (2, t.channels) + (() if t.is_flat else (t.height, t.width))
        assert torch.isfinite(y).all()


def _small(path, graph):
    """The smallest of a few sizes from 32 up at which the spec checks (Inception v3 needs 75)."""
    for size in (32, 64, 96, 128):
        if size > graph.input_type.height:
            break
        found, _ = archdsl.api.analyse(path, input_size=(size, size))
        if found is not None:
            return size, found
    return graph.input_type.height, graph


@pytest.mark.parametrize("path", SPECS, ids=[str(p.relative_to(ROOT)) for p in SPECS])
def test_spec_takes_num_classes(path):
    if "num_classes" not in archdsl.load(path).params:
        assert archdsl.load(path).output.names is not None  # only a backbone (resnet50_fpn's maps) has no classes
        return
    graph = archdsl.load(path, num_classes=7)
    # a detector's first output is its class logits of the finest level: anchors x classes channels
    assert graph.output_types[0].channels == 7 * graph.params.get("num_anchors", 1)
