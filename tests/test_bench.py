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
    rows = gpu.run([ROOT / "specs" / "resnet18.arch"], plan, peak=1e12)
    assert [(r["batch"], r["precision"], r["layout"]) for r in rows] == [
        (2, "tf32", "nchw"), (1, "tf32", "nchw"), (2, "bf16", "channels_last"), (1, "bf16", "channels_last")]
    for row in rows:
        assert "error" not in row, row["error"]
        assert row["spec_img_s"] > 0 and row["reference_img_s"] > 0
        assert row["ratio"] == pytest.approx(row["spec_img_s"] / row["reference_img_s"])
        assert row["control"] == pytest.approx(row["copy_img_s"] / row["reference_img_s"])
        assert 0 < row["peak_fraction"]["spec"] < 1
    section = {"device_name": "toy", "peak_tflops": 1.0, "rows": rows,
               "plan": {"image": 32, "batch": 2, "rounds": 2}}
    text = report.gpu(section)
    assert text.startswith("### 4. GPU (toy)") and text.count("\n| resnet18 | eager |") == 4


def test_a_failing_setting_is_reported_in_its_row():
    plan = gpu.GpuPlan("cpu", image=32, batch=2, rounds=1, throughput_calls=1, latency_calls=1,
                       settings=(gpu.Setting("no-such-mode", "tf32", "nchw"),))
    rows = gpu.run([ROOT / "specs" / "resnet18.arch"], plan, peak=1e12)
    assert all("error" in r for r in rows)
    text = report.gpu({"device_name": "toy", "peak_tflops": 1.0, "rows": rows,
                       "plan": {"image": 32, "batch": 2, "rounds": 1}})
    assert text.count("Error") >= 2


def test_performance_page_is_what_the_results_render_to():
    from bench.run import stored_results

    machines, compiled_graphs, scaling, families, startup, transformers = stored_results()
    assert machines, "bench/results/ holds no measured results"
    assert scaling, "bench/results/check_scaling.json is missing: python3 bench/check_scaling.py"
    page = (ROOT / "docs" / "performance.md").read_text()
    assert page == report.document(machines, compiled_graphs, scaling, families, startup, transformers) + "\n", \
        "rewrite it: python3 bench/run.py --render"


def _model(spec, b1, b8, copy8=1.0):
    return {"spec": spec, "latency": {"batch": 1, "ratio": b1, "copy": 1.0},
            "throughput": {"batch": 8, "ratio": b8, "copy": copy8}}


def test_the_eager_verdict_names_what_misses_the_goal_and_weighs_it_against_the_a_a_control():
    met = report.eager_verdict([_model("a", 1.01, 0.99)])
    assert met == "Lowest eager spec/ref: **0.990** (2 measurements; goal ≥ 0.98: met)."
    missed = report.eager_verdict([_model("a", 1.01, 0.99), _model("b", 1.0, 0.96, copy8=0.99)])
    assert "NOT met; below it: b b8 0.960 (A/A 0.990))" in missed and "a b" not in missed
    noisy = report.eager_verdict([_model("b", 1.0, 0.96, copy8=0.95)])
    assert "met within the A/A control's spread (b b8 0.960 (A/A 0.950))" in noisy and "NOT" not in noisy
    uncontrolled = report.eager_verdict([{"spec": "c", "latency": {"batch": 1, "ratio": 0.9},
                                          "throughput": {"batch": 8, "ratio": 1.0}}])
    assert "NOT met; below it: c b1 0.900 (A/A n/a))" in uncontrolled


def test_a_budget_counts_down_and_estimates_keep_the_longest_job():
    from bench.budget import Budget, Estimates

    now = [100.0]
    budget = Budget(60, clock=lambda: now[0])
    assert budget.allows(60) and not budget.allows(61) and not budget.past_share(0.5)
    now[0] += 45
    assert budget.left() == 15 and budget.past_share(0.5) and not budget.allows(20)
    assert Budget(None).allows(1e9) and not Budget(None).past_share(0.0)
    estimates = Estimates({"compiled": 90.0})
    assert estimates["compiled"] == 90.0
    estimates.record("compiled", 12.0)
    estimates.record("compiled", 8.0)
    assert estimates["compiled"] == 12.0
    assert Estimates({"eager": 10.0, "compiled": 90.0})["a mode never seen"] == 90.0  # the largest guess


def test_jobs_run_setting_by_setting_the_large_batch_first():
    plan = gpu.GpuPlan("cpu", 32, 8, 1, 1, 1, gpu.settings("default"))
    order = gpu.jobs(plan)
    assert order[:2] == [(gpu.Setting("eager", "tf32", "nchw"), 8), (gpu.Setting("eager", "tf32", "nchw"), 1)]
    fast = ("bf16", "channels_last")
    assert order[2:6] == [(gpu.Setting("eager", *fast), 8), (gpu.Setting("eager", *fast), 1),
                          (gpu.Setting("default", *fast), 8), (gpu.Setting("default", *fast), 1)]
    assert order[-1] == (gpu.Setting("max-autotune", *fast), 1)  # the slowest to compile, last
    assert len(order) == 2 * len(plan.settings) == 16 and len(set(order)) == 16


def test_jobs_that_no_longer_fit_the_budget_are_listed_as_not_run():
    from bench.budget import Budget

    plan = gpu.GpuPlan("cpu", image=32, batch=2, rounds=1, throughput_calls=1, latency_calls=1,
                       settings=(gpu.Setting("eager", "tf32", "nchw"), gpu.Setting("default", "bf16", "channels_last")))
    rows = gpu.run([ROOT / "specs" / "resnet18.arch"], plan, 1e12, budget=Budget(30))
    assert [("ratio" in r, r.get("skipped", "")[:11]) for r in rows] == [
        (True, ""), (True, ""), (False, "time budget"), (False, "time budget")]
    text = report.gpu({"device_name": "toy", "peak_tflops": 1.0, "rows": rows,
                       "plan": {"image": 32, "batch": 2, "rounds": 1}})
    assert text.count("not run: time budget") == 2
    assert "Lowest eager spec/ref" in text and "Lowest compiled" not in text
    assert "2 of 4 rows have no measurement" in text


def test_a_compile_worker_reports_a_failure_as_a_result_line_and_warming_goes_on():
    import subprocess
    import sys

    from bench import warm
    from bench.budget import Budget

    bad = gpu.Setting("no-such-mode", "bf16", "channels_last")
    out = subprocess.run([sys.executable, "-m", "bench.warm", "specs/resnet18.arch", "spec", bad.mode, bad.precision,
                          bad.layout, "1", "32", "cpu"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.splitlines()[-1])["error"].startswith("RuntimeError")
    plan = gpu.GpuPlan("cpu", 32, 2, 1, 1, 1, (bad,))
    assert warm.warm_cache([ROOT / "specs" / "resnet18.arch"], gpu.jobs(plan), plan, 2, Budget(None)) == {}
    assert warm.warm_cache([ROOT / "specs" / "resnet18.arch"], gpu.jobs(plan), plan, 2, Budget(0)) == {}


def test_an_unfinished_run_is_saved_and_rendered_as_such(tmp_path):
    from bench.run import Saver

    result = {"environment": {"machine": "toy", "cuda": True}, "complete": False}
    save = Saver(tmp_path / "cuda.json", result)
    save()
    stored = json.loads((tmp_path / "cuda.json").read_text())
    assert stored["complete"] is False
    text = report.machine(stored)
    assert "This run did not finish" in text and "### 4. GPU\n\n**Skipped: not run.**" in text


class _WrittenManyWays(torch.nn.Module):
    """One computation written several ways (split or slices, a + b or b + a, a copy or none, mean over
    (2, 3) or (-1, -2), one concatenation or two), and changed ones (another activation, other mean
    dimensions, the concatenation's parts in another order)."""

    def __init__(self, use_split: bool, swap: bool, act=torch.relu, copy=False, dims=(2, 3), nested=False,
                 reordered=False):
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 4, 3, padding=1)
        self.use_split, self.swap, self.act, self.copy, self.dims = use_split, swap, act, copy, dims
        self.nested, self.reordered = nested, reordered

    def forward(self, x):
        y = self.conv(x)
        y = y.clone() if self.copy else y
        a, b = torch.split(y, 2, 1) if self.use_split else (y[:, :2], y[:, 2:4])
        out = self.act(b + a if self.swap else a + b)
        out = out * out.mean(self.dims, keepdim=True)
        if self.reordered:
            return torch.cat([out, b, a], 1)
        return torch.cat([torch.cat([out, a], 1), b], 1) if self.nested else torch.cat([out, a, b], 1)


def test_graph_fingerprints_see_through_how_a_computation_is_written_but_not_a_changed_op():
    from bench.graphs import fingerprint, inference_graph

    x = torch.randn(1, 4, 8, 8)

    def fp(**kw):
        return fingerprint(inference_graph(_WrittenManyWays(**kw), x))

    base, ops = fp(use_split=False, swap=False)
    assert ops["aten.slice.Tensor"] == 2 and ops["aten.relu.default"] == 1
    assert fp(use_split=True, swap=True)[0] == base
    assert fp(use_split=True, swap=True)[1] == ops
    assert fp(use_split=False, swap=False, dims=(-1, -2))[0] == base
    assert fp(use_split=False, swap=False, nested=True)[0] == base
    copied, copied_ops = fp(use_split=False, swap=False, copy=True)
    assert copied == base and copied_ops["aten.clone.default"] == 1 and ops["aten.clone.default"] == 0
    assert fp(use_split=False, swap=False, act=torch.sigmoid)[0] != base
    assert fp(use_split=False, swap=False, dims=(1, 2))[0] != base
    assert fp(use_split=False, swap=False, reordered=True)[0] != base


def test_the_spec_model_gives_torch_compile_the_references_graph():
    from bench.graphs import compare

    row = compare(ROOT / "specs" / "resnet18.arch", image=32, batch=1, hand_written=True)
    assert row["same"], row["differences"]
    assert row["spec_ops"] == row["reference_ops"] > 100
    text = report.graphs([row])
    assert "| resnet18 | hand-written | " in text and "| yes |" in text and "Same graph: **1 of 1**" in text


def _gpu_row(mode, ratio, control):
    return {"spec": "m", "mode": mode, "precision": "bf16", "layout": "channels_last", "batch": 256,
            "ratio": ratio, "control": control}


def test_the_gpu_verdict_weighs_a_shortfall_against_the_a_a_control():
    met = report.gpu_verdict([_gpu_row("eager", 0.99, 1.0), _gpu_row("default", 1.01, 1.0)])
    assert "Lowest eager spec/ref: **0.990**" in met and "goal ≥ 0.98: met)" in met and "goal ≥ 1.0: met)" in met
    noisy = report.gpu_verdict([_gpu_row("default", 0.995, 1.008)])
    assert "met within the A/A control's spread (m default bf16 channels_last b256 0.995 (A/A 1.008))" in noisy
    missed = report.gpu_verdict([_gpu_row("default", 0.97, 1.01), _gpu_row("default", 0.995, 0.99)])
    assert "NOT met; below it: m default bf16 channels_last b256 0.970 (A/A 1.010))" in missed
    assert "0.995" not in missed.split("below it:")[1]


def test_the_start_up_section_says_which_goals_are_met():
    from bench.startup import CONTROL, TORCH, section

    result = {"commands": {TORCH: {"wall_ms": 1500.0, "cpu_ms": 1400.0},
                           "archdsl compile resnet152 --check": {"wall_ms": 280.0, "cpu_ms": 270.0},
                           "archdsl compile --check specs/": {"wall_ms": 900.0, "cpu_ms": 880.0},
                           CONTROL: {"wall_ms": 1510.0, "cpu_ms": 1405.0}},
              "ratios": {"check / import torch": {"wall": 0.187, "wall_quartiles": [0.18, 0.19], "cpu": 0.19},
                         "every spec / one spec": {"wall": 3.2, "wall_quartiles": [3.1, 3.3], "cpu": 3.26},
                         "A/A control": {"wall": 1.01, "wall_quartiles": [0.99, 1.02], "cpu": 1.0}},
              "goals": {"check / import torch": 0.2, "every spec / one spec": 3.0},
              "environment": {"repeats": 2, "load average": [0.5, 0.6], "cpus": 2, "python": "3.11.7",
                              "date": "2026-12-06", "commit": "abc1234"}}
    text = section(result)
    assert "| check / import torch (goal at most 0.2: met) | 0.19 (0.18-0.19) | 0.19 |" in text
    assert "| every spec / one spec (goal at most 3: **missed**) | 3.20 (3.10-3.30) | 3.26 |" in text
    assert "| A/A control | 1.01 (0.99-1.02) | 1.00 |" in text
    assert "| `python -c 'import torch'` | 1500 | 1400 |" in text
    assert "adds" not in text  # figures stored before the per-file line was measured have none


def test_a_start_up_goal_met_only_within_the_a_a_controls_spread_says_so():
    from bench.startup import verdict

    assert verdict(2.7, 3.0, noise=1.05) == "met"
    assert verdict(2.9, 3.0, noise=1.05) == "met at the median, within the A/A control's spread of it"
    assert verdict(3.01, 3.0, noise=1.0) == "**missed**"


def test_each_further_file_is_the_every_spec_time_less_one_specs_over_the_other_files():
    from bench.startup import further_file, section

    found = further_file([0.80, 0.86, 0.74], [0.26, 0.26, 0.25], files=50)
    assert found["files"] == 50
    assert abs(found["wall_ms"] - 1e3 * 0.54 / 49) < 1e-9  # the median round's (0.80 - 0.26) / 49
    assert abs(found["share_of_one"] - (0.54 / 49) / 0.26) < 1e-9
    result = {"commands": {}, "ratios": {}, "goals": {}, "each further file": found,
              "environment": {"repeats": 3, "load average": [0.5, 0.6], "cpus": 2, "python": "3.11.7",
                              "date": "2026-12-07", "commit": "abc1234"}}
    assert "Each file after the first adds 11.0 ms (10.5-11.6)" in section(result)
    assert "4.2% of one spec's whole check" in section(result) and "over the 49 other files" in section(result)


def test_the_instruction_count_is_read_from_cachegrinds_summary():
    from bench.instructions import instructions_in

    report = "==7== Cachegrind, a high-precision tracing profiler\n==7== \n==7== I   refs:      1,184,284,733\n"
    assert instructions_in(report) == 1_184_284_733
    with pytest.raises(RuntimeError, match="no instruction count"):
        instructions_in("valgrind: failed to start tool 'cachegrind'\n")
