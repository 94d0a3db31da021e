"""Markdown for the benchmark: one part per machine that has run it, from its results file."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECK_GOAL = 0.5  # `archdsl compile --check` of resnet152 under half the time of `import torch`
EAGER_GOAL = 0.98
COMPILED_GOAL = 1.0  # compiled spec model at least as fast as the compiled reference


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def ratio(r: dict, key: str = "ratio") -> str:
    low, high = r[f"{key}_quartiles"]
    return f"{r[key]:.3f} ({low:.3f}–{high:.3f})"


def unmeasured(r: dict) -> str:
    """Why a row has no figures: its error, or what kept it from running."""
    return r.get("error") or f"not run: {r['skipped']}"


def control(r: dict, key: str) -> str:
    return "n/a" if r.get(key) is None else f"{r[key]:.3f}"


def machine(result: dict) -> str:
    env = result["environment"]
    parts = [f"## Measured on {env['machine']}", ""]
    if result.get("complete") is False:
        parts += ["**This run did not finish** (it was stopped, or its machine was taken back, before the end); "
                  "what it measured up to then follows.", ""]
    parts += [table(["", ""], [[k, v] for k, v in env.items()])]
    for key, render in (("frontend", frontend), ("build", build), ("eager", eager)):
        if key in result:
            parts += ["", render(result[key])]
    if result.get("eager_tuned_malloc"):
        parts += ["", eager(result["eager_tuned_malloc"], tuned=True)]
    parts += ["", gpu(result.get("gpu"))]
    return "\n".join(parts)


def frontend(section: dict) -> str:
    specs = table(["spec", "IR nodes", "parse + check (ms, median)"],
                  [[r["spec"], r["nodes"], f"{r['ms']:.1f}"] for r in section["specs"]])
    p = section["process"]
    procs = table(["whole process", "wall time (ms, median)"], [[f"`{k}`", f"{v:.0f}"] for k, v in p["commands"].items()])
    verdict = "met" if p["ratio"] < CHECK_GOAL else "NOT met"
    imports = ", ".join(f"{i['package']} {i['ms']:.0f} ms" for i in p["imports"])
    return "\n".join([
        f"### 1. Front end (median of {section['repeats']} warm runs in process)", "", specs, "",
        f"Whole processes, {p['repeats']} interleaved runs each:", "", procs, "",
        f"`{p['check']}` / `{p['torch']}` = **{ratio(p)}** (median, quartiles over rounds); goal < {CHECK_GOAL}: "
        f"**{verdict}**.", "",
        f"Where the check process spends its import time (each package's own modules, `python -X importtime`): "
        f"{imports}."])


def build(section: dict) -> str:
    rows = [[r["spec"], f"{r['ir_ms']:.1f}", f"{r['lower_ms']:.1f}", f"{r['total_ms']:.1f}",
             "" if r["reference_ms"] is None else f"{r['reference_ms']:.1f}"] for r in section["specs"]]
    return "\n".join([
        f"### 2. Build: spec to module, on the meta device (no parameter memory, no initialiser work; median of "
        f"{section['repeats']})", "",
        table(["spec", "parse + check (ms)", "lower to fx module (ms)", "spec to module (ms)",
               "hand-written constructor (ms)"], rows)])


def eager(section: dict, tuned: bool = False) -> str:
    s = section["settings"]
    rows = []
    for r in section["models"]:
        if "error" in r or "skipped" in r:
            rows.append([r["spec"], r.get("reference", ""), unmeasured(r)] + [""] * 10)
            continue
        lat, thr = r["latency"], r["throughput"]
        rows.append([r["spec"], r["reference"], f"{r['difference']:.0e}",
                     f"{lat['spec_ms']:.1f}", f"{lat['reference_ms']:.1f}", ratio(lat), control(lat, "copy"),
                     control(lat, "traced"), f"{thr['spec_img_s']:.1f}", f"{thr['reference_img_s']:.1f}",
                     ratio(thr), control(thr, "copy"), control(thr, "traced")])
    title = ("### 3b. Eager forward again, glibc malloc told to keep freed memory (mallopt)" if tuned else
             "### 3. Eager forward: spec-built model vs reference, same weights, same process, interleaved")
    summary = eager_verdict(section["models"])
    return "\n".join([
        title, "",
        f"{s['device']}, {s['image']}x{s['image']} images; latency at batch 1 ({s['latency_rounds']} rounds), "
        f"throughput at batch {s['batch']} ({s['throughput_rounds']} rounds). Ratio = reference time / spec-model "
        f"time per round (above 1: the generated code is faster): median (quartiles). Two controls, timed in "
        f"the same rounds: `A/A` = reference / a copy of it (what the machine alone does to a ratio); `fx` = "
        f"reference / the reference traced by torch.fx (what fx's code style alone does, archdsl aside). "
        f"`diff` = relative L2 difference of the spec model's and the reference's logits.", "",
        table(["spec", "reference", "diff", "b1 spec (ms)", "b1 ref (ms)", "b1 ratio", "b1 A/A", "b1 fx",
               f"b{s['batch']} spec (img/s)", f"b{s['batch']} ref (img/s)", f"b{s['batch']} ratio",
               f"b{s['batch']} A/A", f"b{s['batch']} fx"], rows),
        "", summary])


def eager_verdict(models: list[dict]) -> str:
    """Section 3's verdict: every model's batch-1 and batch-N ratio against the eager goal."""
    measured = [{"name": f"{r['spec']} b{r[key]['batch']}", "ratio": r[key]["ratio"], "control": r[key].get("copy")}
                for r in models if "latency" in r for key in ("latency", "throughput")]
    return verdict("eager spec/ref", EAGER_GOAL, measured)


def verdict(label: str, goal: float, measured: list[dict]) -> str:
    """The lowest of `measured` ({name, ratio, control}) against `goal`. A ratio below the goal but no
    further below 1 than its A/A control is from 1 is as close as the machine can tell two identical
    models apart: it is listed as within the control's spread, not as a miss."""
    if not measured:
        return ""
    worst = min(m["ratio"] for m in measured)
    below = [m for m in measured if m["ratio"] < goal]
    missed = [m for m in below if m["control"] is None or m["ratio"] < 1 - abs(1 - m["control"])]
    outcome = ("met" if not below else
               f"met within the A/A control's spread ({_listed(below)})" if not missed else
               f"NOT met; below it: {_listed(missed)}")
    return f"Lowest {label}: **{worst:.3f}** ({len(measured)} measurements; goal ≥ {goal}: {outcome})."


def _listed(measured: list[dict]) -> str:
    return ", ".join(f"{m['name']} {m['ratio']:.3f} (A/A {control(m, 'control')})" for m in measured)


def gpu(section: dict | None) -> str:
    if not section or section.get("skipped"):
        reason = section["skipped"] if section else "not run"
        return f"### 4. GPU\n\n**Skipped: {reason}.** No GPU figures are given for this machine."
    header = ["spec", "mode", "precision", "layout", "batch", "spec img/s", "ref img/s", "spec/ref", "A/A",
              "spec ms", "spec % of bf16 peak", "ref % of bf16 peak", "compile s (spec, ref)", "compiled vs eager"]
    rows = []
    for r in section["rows"]:
        head = [r["spec"], r["mode"], r["precision"], r["layout"], r["batch"]]
        if "error" in r or "skipped" in r:
            rows.append(head + [unmeasured(r)] + [""] * 8)
            continue
        rows.append(head + [f"{r['spec_img_s']:.0f}", f"{r['reference_img_s']:.0f}", f"{r['ratio']:.3f}",
                            control(r, "control"),
                            f"{r['spec_ms']:.2f}", f"{100 * r['peak_fraction']['spec']:.1f}",
                            f"{100 * r['peak_fraction']['reference']:.1f}", compile_seconds(r),
                            f"{r['spec_error']:.0e}" if "spec_error" in r else ""])
    p = section["plan"]
    references = ", ".join(sorted(set(r["reference"] for r in section["rows"])))
    return "\n".join([
        f"### 4. GPU ({section['device_name']})", "",
        f"Measured bf16 matmul peak: **{section['peak_tflops']:.0f} TFLOP/s**. {p['image']}x{p['image']} images, "
        f"throughput at batch {p['batch']}, latency at batch 1; {p['rounds']} interleaved rounds, median. "
        f"References: {references}. `A/A` = a copy of the reference / the reference, timed in the same rounds "
        f"(how far two identical models' figures differ here). % of peak = 2 x MACs x img/s / peak. "
        f"`compile s` = the first call of the "
        f"compiled model, cold (in a worker filling the compile cache) where a worker compiled it, else as timed "
        f"in the run. `compiled vs eager` = relative L2 difference of the compiled model's output from its eager "
        f"output at the same precision.", "",
        table(header, rows), "", gpu_verdict(section["rows"])])


def compile_seconds(row: dict) -> str:
    cold = [row.get(f"{k}_cold_compile_s", row.get(f"{k}_compile_s")) for k in ("spec", "reference")]
    return "" if None in cold else f"{cold[0]:.0f}, {cold[1]:.0f}"


def gpu_verdict(rows: list[dict]) -> str:
    """Section 4's verdicts: eager rows against the eager goal, compiled rows against parity (compiled spec
    model at least as fast as the compiled reference), and how many rows have no measurement."""
    lines = []
    for label, goal, chosen in (("eager", EAGER_GOAL, lambda r: r["mode"] == "eager"),
                                ("compiled", COMPILED_GOAL, lambda r: r["mode"] != "eager")):
        measured = [{"name": f"{r['spec']} {r['mode']} {r['precision']} {r['layout']} b{r['batch']}",
                     "ratio": r["ratio"], "control": r.get("control")} for r in rows if chosen(r) and "ratio" in r]
        if measured:
            lines.append(verdict(f"{label} spec/ref", goal, measured))
    unmeasured = [r for r in rows if "ratio" not in r]
    if unmeasured:
        lines.append(f"{len(unmeasured)} of {len(rows)} rows have no measurement (failed or not run); see the table.")
    return "\n\n".join(lines)


def document(results: list[dict], compiled_graphs: dict | None = None, scaling: dict | None = None,
             families: dict | None = None, startup: dict | None = None,
             transformers: dict | None = None) -> str:
    """docs/performance.md: how to run, the notes, the stored graph comparison, then every machine's
    results (CUDA first), then check time against spec size (bench/check_scaling.py)."""
    intro = (HERE / "NOTES.md").read_text().rstrip()
    parts = [intro, ""]
    if not any(r["environment"].get("cuda") for r in results):
        parts += ["## GPU table: pending", "",
                  "No CUDA machine has run this benchmark yet, so there is no GPU table and no GPU figure "
                  "anywhere in this document. Section 4 is written and will fill this in when "
                  "`python3 bench/run.py` runs on a machine with CUDA (torchvision and timm, where importable "
                  "there, become the references); on a machine lent for a few minutes, `bash bench/device.sh` "
                  "(below).", ""]
    if compiled_graphs:
        parts += [graphs_part(compiled_graphs), ""]
    for result in sorted(results, key=lambda r: not r["environment"].get("cuda")):
        parts += [machine(result), ""]
    if scaling:
        parts += [check_scaling(scaling), ""]
    if families:
        from bench.families import section

        parts += [section(families), ""]
    if transformers:
        from bench.families import transformer_section

        parts += [transformer_section(transformers), ""]
    if startup:
        from bench.startup import section as startup_section

        parts += [startup_section(startup), ""]
    return "\n".join(parts)


def check_scaling(result: dict) -> str:
    """bench/check_scaling.py's figures: check time per family of generated spec and size."""
    rows = result["rows"]
    families = list(dict.fromkeys(r["family"] for r in rows))
    body = [[r["family"], f"{r['tokens']:,}", f"{r['bytes']:,}", r["errors"], r["hints"], f"{r['seconds']:.3f}",
             f"{r['seconds'] / r['tokens'] * 1e6:.0f}"] for r in rows]
    worst = max(rows, key=lambda r: r["seconds"])
    env = result["environment"]
    return "\n".join([
        "## Check time against spec size", "",
        "`python3 bench/check_scaling.py`: `archdsl.api.analyse` (parse, elaborate, verify) in process, median "
        f"of {env['repeats (median)']}, on generated specs up to the token limit ({env['token limit']:,} words and "
        "symbols; one more is E0504). Families: " + ", ".join(f"`{f}`" for f in families) + ". `correct` is a "
        "chain of named layers, each using the one before; `unknown values` defines names and then refers to "
        "misspelt ones (E0204), `unknown params` declares parameters and uses misspelt ones (E0205), each "
        "error searching for a \"did you mean\". The search compares a word with at most 100 names (its "
        "neighbours in alphabetical order and in the order of the reversed names), and one check makes at most "
        "50 searches among 50 names or more, so the check stays linear: `hints` counts the errors that got a suggestion.", "",
        table(["spec", "tokens", "bytes", "errors", "hints", "seconds", "µs/token"], body), "",
        f"Worst case: **{worst['seconds']:.2f} s** ({worst['family']}, {worst['tokens']:,} tokens); goal under "
        f"{result['goal_seconds']:g} s. Measured {env['date']}, Python {env['python']}, {env['cpus']} CPUs "
        f"({env['machine']}), load average {env['load average at start']} at the start."])


def graphs(rows: list[dict]) -> str:
    """Whether torch.compile is given the same graph for each spec model as for its reference."""
    body = [[r["spec"], r["reference"], r["spec_ops"], r["reference_ops"], "yes" if r["same"] else "**no**",
             ", ".join(f"{op} {a} vs {b}" for op, (a, b) in r["differences"].items())] for r in rows]
    same = sum(r["same"] for r in rows)
    return "\n".join([
        "Each model's graph as inductor receives it (after AOTAutograd: functionalised, with inductor's "
        "decompositions), traced at 2x3x64x64 on the CPU. `same` = the two graphs are one computation up to "
        "node names and order and the way a view, a reduction or a concatenation is written "
        "(`bench/graphs.py`), setting aside copies (`aten.clone`), which the last column counts where the "
        "two differ: a copy is one more pass "
        "over memory for the side that makes it. Where the graphs are the same and the spec model makes no "
        "more copies, torch.compile has no more work to do for it than for the reference, on any device.", "",
        table(["spec", "reference", "ops (spec)", "ops (ref)", "same", "op counts that differ (spec vs ref)"], body),
        "", f"Same graph: **{same} of {len(rows)}**."])


def graphs_part(result: dict) -> str:
    """The stored graph comparison (bench/results/graphs.json) as a part of the page."""
    env = result["environment"]
    return "\n".join([f"## What torch.compile is given, spec model against {', '.join(env['references'])}", "",
                      table(["", ""], [[k, ", ".join(v) if isinstance(v, list) else v] for k, v in env.items()]), "",
                      graphs(result["rows"])])
