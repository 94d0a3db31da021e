"""Train examples/digits.arch on scikit-learn's 8x8 digits and report held-out accuracy.

    python3 examples/train_digits.py                # the run docs/training.md reports
    python3 examples/train_digits.py --epochs 3     # a quicker look

The data set ships inside scikit-learn (sklearn.datasets.load_digits: 1,797 grey 8x8
images, 10 classes), so nothing is downloaded. tests/test_training.py runs the same
functions at a reduced size.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import archdsl

SPEC = Path(__file__).with_name("digits.arch")


def load_digits_split(seed: int = 0, test_fraction: float = 0.2):
    """(x_train, y_train, x_test, y_test): images as float32 Nx1x8x8 scaled to [0, 1], labels
    as int64; a stratified split fixed by `seed`."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.int64)
    train_idx, test_idx = train_test_split(torch.arange(len(labels)).numpy(), test_size=test_fraction,
                                           random_state=seed, stratify=labels.numpy())
    train_idx, test_idx = torch.from_numpy(train_idx), torch.from_numpy(test_idx)
    return images[train_idx], labels[train_idx], images[test_idx], labels[test_idx]


def make_model(seed: int = 0, **params) -> torch.nn.Module:
    """The digits network, its weights initialised from `seed`; `params` set the spec's
    parameters (`width=16`)."""
    torch.manual_seed(seed)
    return archdsl.build(SPEC, **params)


def cross_entropy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The mean cross-entropy loss of `model` on one batch."""
    return F.cross_entropy(model(x), y)


def train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int, batch_size: int = 64,
          lr: float = 0.1, seed: int = 0, rank: int = 0, world_size: int = 1,
          loss_fn=cross_entropy) -> list[float]:
    """SGD with momentum and a cosine schedule, shuffled by `seed`; returns each epoch's mean loss.

    Every process draws the same shuffled batches of `batch_size` images; process `rank` of
    `world_size` trains on its share of each, `batch[rank::world_size]` (what torch's
    DistributedSampler does), so with one process it is the whole batch. Under
    DistributedDataParallel the losses returned are this process's share's."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    steps = epochs * -(-len(x) // batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        total, seen = 0.0, 0
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size][rank::world_size]
            loss = loss_fn(model, x[batch], y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total, seen = total + loss.item() * len(batch), seen + len(batch)
        losses.append(total / seen)
    return losses


@torch.no_grad()
def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The fraction of `x` that `model` (in eval mode) labels as `y`."""
    model.eval()
    return (model(x).argmax(dim=1) == y).float().mean().item()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--width", type=int, default=32, help="the spec's `width` parameter")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch's CPU threads, 0 for torch's choice; 1 by default: this small a model gains "
                             "nothing from a second, which is many times slower when other work shares the cores")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    x_train, y_train, x_test, y_test = load_digits_split(args.seed)
    model = make_model(args.seed, width=args.width)
    started = time.perf_counter()
    losses = train(model, x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                   lr=args.lr, seed=args.seed)
    seconds = time.perf_counter() - started
    for epoch, loss in enumerate(losses, 1):
        print(f"epoch {epoch:2d}  train loss {loss:.4f}")
    print(f"held-out accuracy {accuracy(model, x_test, y_test):.4f} on {len(x_test)} images; "
          f"trained {len(x_train)} images x {args.epochs} epochs in {seconds:.1f}s "
          f"({torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
