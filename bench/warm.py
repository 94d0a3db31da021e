"""Filling torch.compile's on-disk caches ahead of section 4's timed runs.

Compiling is most of a GPU run's time, and a compile keeps about one CPU core busy for most of
it. So section 4 first compiles its compiled jobs (model x setting x batch, spec model and
reference alike) in parallel worker processes, each doing exactly what the timed run will do:
the same model, parameter layout, input shape and layout, precision and inference mode. The
timed run's own compile then finds inductor's graph and kernel caches warm. The workers' cold
compile times are kept and reported.

max-autotune jobs are not warmed: autotuning times candidate kernels on the GPU, and workers
running side by side would skew that choice.

A worker is `python -m bench.warm SPEC WHICH MODE PRECISION LAYOUT BATCH IMAGE DEVICE`; it prints
one line of JSON: {"compile_s": seconds} or {"error": text}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_WARMED = ("eager", "max-autotune")


def warm_cache(paths: list[Path], jobs: list, plan, workers: int, budget, share: float = 0.5) -> dict:
    """{(which, spec name, setting, batch): cold compile seconds} for every job a worker compiled.
    Warming stops (running workers are ended) once `share` of the time left at its start is spent."""
    from bench.frontend import spec_name

    queue = [(path, which, setting, batch) for setting, batch in jobs if setting.mode not in NOT_WARMED
             for path in paths for which in ("spec", "reference")]
    if workers <= 0 or not queue:
        return {}
    total = len(queue)
    stop_when_left = budget.left() * (1 - share)
    started = time.monotonic()
    env = {**os.environ, "TORCHINDUCTOR_COMPILE_THREADS": str(max(1, (os.cpu_count() or 1) // workers))}
    running, done = [], {}
    while queue or running:
        while queue and len(running) < workers and budget.left() > stop_when_left:
            job = queue.pop(0)
            running.append((job, *_start(*job, plan, env)))
        if budget.left() <= stop_when_left:
            queue.clear()
            for _, worker, _ in running:
                worker.kill()
        for entry in list(running):
            job, worker, output = entry
            if worker.poll() is not None:
                running.remove(entry)
                result = _result(worker, output)
                if "compile_s" in result:
                    path, which, setting, batch = job
                    done[which, spec_name(path), setting, batch] = result["compile_s"]
        time.sleep(0.1)
    print(f"[bench] 4. GPU: {len(done)} of {total} compiles done by {workers} workers in "
          f"{time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return done


def _start(path: Path, which: str, setting, batch: int, plan, env: dict):
    """(the worker process for one job, the file its output goes to)."""
    command = [sys.executable, "-m", "bench.warm", str(path), which, setting.mode, setting.precision,
               setting.layout, str(batch), str(plan.image), plan.device]
    output = tempfile.TemporaryFile(mode="w+")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.DEVNULL), output


def _result(worker: subprocess.Popen, output) -> dict:
    output.seek(0)
    lines = output.read().strip().splitlines()
    output.close()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": f"worker ended with status {worker.returncode} and no result"}


def main(argv: list[str]) -> int:
    import torch

    from bench.eager import pair
    from bench.gpu import Setting, compiled_checked, inputs, memory_format, precision

    spec, which, mode, precision_name, layout, batch, image, device = argv
    setting = Setting(mode, precision_name, layout)
    try:
        ours, ref, _, _ = pair(Path(spec).resolve(), device)
        model = (ours if which == "spec" else ref).to(memory_format=memory_format(setting))
        x = inputs(setting, int(batch), int(image), device)
        with precision(precision_name, device), torch.inference_mode():
            _, seconds, _ = compiled_checked(model, setting, x)
        print(json.dumps({"compile_s": seconds}))
    except Exception as exc:  # reported, not raised: the timed run will meet and report it too
        print(json.dumps({"error": f"{type(exc).__name__}: {str(exc)[:160]}"}))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
