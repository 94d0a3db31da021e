"""Every bundled spec checks cleanly, builds, and runs forward on a small input."""

import pytest
import torch

import archdsl
from conftest import ROOT, bundled_specs

SPECS = bundled_specs()


@pytest.mark.parametrize("path", SPECS, ids=[str(p.relative_to(ROOT)) for p in SPECS])
def test_spec_checks_builds_and_runs(path):
    assert [d for d in archdsl.check(path) if d.is_error] == []
    graph = archdsl.load(path)
    size = max(32, min(64, graph.input_type.height))
    small = archdsl.load(path, input_size=(size, size))
    model = archdsl.build(small, init=False).eval()
    with torch.no_grad():
        out = model(torch.randn(2, small.input_type.channels, size, size))
    assert tuple(out.shape) == (2, small.output_type.channels)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("path", SPECS, ids=[str(p.relative_to(ROOT)) for p in SPECS])
def test_spec_takes_num_classes(path):
    graph = archdsl.load(path, num_classes=7)
    assert graph.output_type.channels == 7
