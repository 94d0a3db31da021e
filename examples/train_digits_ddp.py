"""Train examples/digits.arch with torch's DistributedDataParallel in 2 local processes (gloo, CPU).

    python3 examples/train_digits_ddp.py                 # 2 processes, the run docs/training.md reports
    python3 examples/train_digits_ddp.py --epochs 3

Nothing here is archdsl's own: an archdsl model is a torch.nn.Module, so torch.distributed
takes it as it takes any other. tests/test_distributed.py runs `worker` and checks that the
ranks end with the same parameters as one process trained on the full batches.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, str(Path(__file__).parent))
import train_digits  # noqa: E402  (the sibling script: data, model, training loop)


def rendezvous(folder) -> str:
    """Where the ranks meet: a file in a fresh folder of this run (torch's FileStore), not a TCP
    port. A probed free port can be taken by another program before rank 0 binds it, and the
    env:// rendezvous also reads MASTER_*/TORCHELASTIC_* from whatever environment the ranks
    inherit; a new file in the run's own folder is used by these ranks alone."""
    path = Path(folder).resolve() / "rendezvous"
    if path.exists():
        raise FileExistsError(f"{path} is left from another run: give each run a fresh folder")
    return path.as_uri()


def worker(rank: int, world_size: int, init_method: str, runs: list[dict], out_dir: str, threads: int = 1) -> None:
    """One process of `world_size`: joins the gloo group at `init_method` (see `rendezvous`), then
    for each run in `runs` (keyword arguments: `spec`, `params`, `data`, `images`, `epochs`,
    `batch_size`, `lr`, `seed`) builds the model, wraps it in DistributedDataParallel, trains its
    share of every batch and saves `{"losses", "state_dict"}` to OUT_DIR/RUN-rankRANK.pt (RUN: the
    run's position)."""
    torch.set_num_threads(threads)
    # a rank left waiting on a collective fails after the timeout instead of hanging
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=60))
    try:
        for index, run in enumerate(runs):
            # the training images and labels, as given or loaded here (given: no scikit-learn import)
            x, y = run["data"] if "data" in run else train_digits.load_digits_split(run.get("seed", 0))[:2]
            images = run.get("images", len(x))
            torch.manual_seed(run.get("seed", 0))
            model = DistributedDataParallel(train_digits.archdsl.build(run["spec"], **run.get("params", {})))
            losses = train_digits.train(model, x[:images], y[:images], epochs=run["epochs"],
                                        batch_size=run["batch_size"], lr=run["lr"], seed=run.get("seed", 0),
                                        rank=rank, world_size=world_size)
            torch.save({"losses": losses, "state_dict": model.module.state_dict()},
                       Path(out_dir) / f"{index}-rank{rank}.pt")
        dist.barrier()  # no rank closes its connections while another still talks to it
    finally:
        dist.destroy_process_group()


def spawn(fn, args: tuple, world_size: int, timeout: float) -> None:
    """Runs `fn(rank, *args)` in `world_size` fresh processes and waits at most `timeout` seconds.
    A rank's exception is raised here with its traceback; past the timeout every rank still
    running is terminated and TimeoutError raised."""
    context = mp.start_processes(fn, args=args, nprocs=world_size, join=False, start_method="spawn")
    deadline = time.monotonic() + timeout
    try:
        while not context.join(timeout=max(0.1, deadline - time.monotonic())):
            if time.monotonic() >= deadline:
                alive = [rank for rank, process in enumerate(context.processes) if process.is_alive()]
                raise TimeoutError(f"ranks {alive} still running after {timeout:.0f}s")
    finally:
        for process in context.processes:
            if process.is_alive():
                process.terminate()
                process.join(5)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64, help="the global batch, split between processes")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="ddp-digits", help="folder for each rank's trained state_dict")
    args = parser.parse_args(argv)

    Path(args.out).mkdir(exist_ok=True)
    run = {"spec": str(train_digits.SPEC), "epochs": args.epochs, "batch_size": args.batch_size,
           "lr": args.lr, "seed": args.seed}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as meeting:
        spawn(worker, (args.processes, rendezvous(meeting), [run], args.out), args.processes, timeout=600)
    seconds = time.perf_counter() - started
    # evaluate rank 0's copy: its BatchNorm running statistics are the ones every rank started
    # each step from (DistributedDataParallel broadcasts rank 0's buffers before each forward)
    saved = torch.load(Path(args.out) / "0-rank0.pt", weights_only=True)
    model = train_digits.archdsl.build(train_digits.SPEC)
    model.load_state_dict(saved["state_dict"])
    _, _, x_test, y_test = train_digits.load_digits_split(args.seed)
    print(f"rank 0: last epoch's loss {saved['losses'][-1]:.4f}; held-out accuracy "
          f"{train_digits.accuracy(model, x_test, y_test):.4f} on {len(x_test)} images; "
          f"{args.processes} processes, {args.epochs} epochs in {seconds:.1f}s (start-up included)")


if __name__ == "__main__":
    main()
