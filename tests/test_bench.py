"""The benchmark's code paths, at toy sizes: they run on CUDA machines this suite never sees,
so a mistake there would surface only at the end of a long GPU run."""

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from bench import gpu, report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def test_the_gpu_section_measures_and_reports_on_a_cpu_at_toy_size():
    plan = gpu.GpuPlan("cpu", image=32, batch=2, rounds=2, throughput_calls=1, latency_calls=1,
                       settings=(gpu.Setting("eager", "tf32", "nchw"), gpu.Setting("eager", "bf16", "channels_last")))
    rows = gpu.run_model(ROOT / "specs" / "resnet18.arch", plan, peak=1e12)
    assert [(r["batch"], r["precision"], r["layout"]) for r in rows] == [
        (2, "tf32", "nchw"), (1, "tf32", "nchw"), (2, "bf16", "channels_last"), (1, "bf16", "channels_last")]
    for row in rows:
        assert "error" not in row, row["error"]
        assert row["spec_img_s"] > 0 and row["reference_img_s"] > 0
        assert row["ratio"] == pytest.approx(row["spec_img_s"] / row["reference_img_s"])
        assert 0 < row["peak_fraction"]["spec"] < 1
    section = {"device_name": "toy", "peak_tflops": 1.0, "rows": rows,
               "plan": {"image": 32, "batch": 2, "rounds": 2}}
    text = report.gpu(section)
    assert text.startswith("### 4. GPU (toy)") and text.count("\n| resnet18 | eager |") == 4


def test_a_failing_setting_is_reported_in_its_row():
    plan = gpu.GpuPlan("cpu", image=32, batch=2, rounds=1, throughput_calls=1, latency_calls=1,
                       settings=(gpu.Setting("no-such-mode", "tf32", "nchw"),))
    rows = gpu.run_model(ROOT / "specs" / "resnet18.arch", plan, peak=1e12)
    assert all("error" in r for r in rows)
    text = report.gpu({"device_name": "toy", "peak_tflops": 1.0, "rows": rows,
                       "plan": {"image": 32, "batch": 2, "rounds": 1}})
    assert text.count("Error") >= 2


def test_performance_page_is_what_the_results_render_to():
    results = [json.loads(p.read_text()) for p in sorted((ROOT / "bench" / "results").glob("*.json"))]
    assert results, "bench/results/ holds no measured results"
    page = (ROOT / "docs" / "performance.md").read_text()
    assert page == report.document(results) + "\n", "rewrite it: python3 bench/run.py --render"


def _model(spec, b1, b8, copy8=1.0):
    return {"spec": spec, "latency": {"batch": 1, "ratio": b1, "copy": 1.0},
            "throughput": {"batch": 8, "ratio": b8, "copy": copy8}}


def test_the_eager_verdict_names_what_misses_the_goal_and_whether_the_machine_could_tell():
    assert report.eager_verdict([_model("a", 1.01, 0.99)]) == "Lowest median ratio: **0.990** (goal ≥ 0.98: met)."
    missed = report.eager_verdict([_model("a", 1.01, 0.99), _model("b", 1.0, 0.96, copy8=0.99)])
    assert "NOT met" in missed and "b batch 8: 0.960 (A/A 0.990)" in missed and "a batch" not in missed
    noisy = report.eager_verdict([_model("b", 1.0, 0.96, copy8=0.95)])
    assert "not resolved" in noisy and "NOT met" not in noisy
