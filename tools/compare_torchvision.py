"""Compare bundled specs with torchvision's own modules, weights shared, in eval and train mode, with
gradients: `python3 -m tools.compare_torchvision NAME... [--size N] [--batch B]`.

A development tool for a venv where torchvision imports (../shared/tools/refs_venv.sh makes one);
the suite holds the specs to reference cards instead, without torchvision. torchvision's state_dict
is loaded into the spec's module strictly; stochastic depth and dropout are set to 0 on both (so
train mode is deterministic: batch norms use batch statistics, nothing is dropped); each network
then runs the same input in eval mode, in train mode, and backward from the sum of the train-mode
output. Prints, per network, the largest relative difference of the outputs and of every gradient.
"""

from __future__ import annotations

import argparse
import sys

import torch

import archdsl


def _no_drops(module: torch.nn.Module) -> None:
    for m in module.modules():
        if hasattr(m, "p") and isinstance(getattr(m, "p"), float):
            m.p = 0.0


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def compare(name: str, size: int | None, batch: int) -> dict:
    import torchvision

    ref = torchvision.models.get_model(name, weights=None)
    graph = archdsl.load(name, input_size=size) if size else archdsl.load(name)
    ours = archdsl.build(graph, init=False)
    ours.load_state_dict(ref.state_dict(), strict=True)
    _no_drops(ref)
    _no_drops(ours)
    t = graph.input_type
    x = torch.randn(batch, t.channels, t.height, t.width, generator=torch.Generator().manual_seed(0))
    result = {}
    with torch.no_grad():
        result["eval"] = _relative(ours.eval()(x), ref.eval()(x))
    ours.train(), ref.train()
    a, b = ours(x), ref(x)
    result["train"] = _relative(a, b)
    a.sum().backward()
    b.sum().backward()
    ref_params = dict(ref.named_parameters())
    result["gradients"] = max(_relative(p.grad, ref_params[k].grad) for k, p in ours.named_parameters())
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+")
    parser.add_argument("--size", type=int, default=None, help="the input size (default: the spec's)")
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args(argv)
    for name in args.names:
        r = compare(name, args.size, args.batch)
        print(f"{name}: eval {r['eval']:.1e}, train {r['train']:.1e}, gradients (largest) {r['gradients']:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
