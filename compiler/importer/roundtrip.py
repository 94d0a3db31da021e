"""The round trip: build the written spec, load the source's weights strictly, compare outputs in
eval and in training mode."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from archdsl.diagnostics import ArchError, error

#: outputs agree when they differ by at most this much of the largest output (float32 rounding only)
TOLERANCE = 1e-5


@dataclass(frozen=True)
class RoundTrip:
    """How far the spec's module is from the source on one random batch, in each mode."""

    eval_diff: float
    train_diff: float
    scale: float

    @property
    def ok(self) -> bool:
        return max(self.eval_diff, self.train_diff) <= TOLERANCE * max(1.0, self.scale)

    def __str__(self) -> str:
        return f"max abs diff {self.eval_diff:.1e} in eval mode, {self.train_diff:.1e} in training mode"


def round_trip(text: str, source: torch.nn.Module, input_size: tuple[int, int, int], batch: int = 2) -> RoundTrip:
    """Build `text`, load `source`'s state_dict strictly and compare the outputs on a random batch;
    the source's weights, buffers and mode are as they were afterwards. Raises ArchError (E0804)
    where the spec does not build or its state_dict differs."""
    import archdsl
    from archdsl.backends.importer import device_of

    device = device_of(source)
    try:
        built = archdsl.build(text, device=device if device.type != "cpu" else None)
    except ArchError as exc:
        raise ArchError([error("E0804", "the written spec does not check clean: " + exc.diagnostics[0].message,
                               None, "", "this is a bug in the importer; please report it with the module")]) from exc
    state = {k: v.detach().clone() for k, v in source.state_dict().items()}
    mode = source.training
    try:
        built.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ArchError([error("E0804", "the written spec's state_dict differs from the module's: "
                               + str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc),
                               None, "", "this is a bug in the importer; please report it with the module")]) from exc
    x = torch.randn(batch, *input_size, generator=torch.Generator().manual_seed(0)).to(device)
    try:
        eval_diff, scale = _compare(built.eval(), source.eval(), x, train=False)
        train_diff, _ = _compare(built.train(), source.train(), x, train=True)
    finally:
        source.load_state_dict(state)
        source.train(mode)
    return RoundTrip(eval_diff, train_diff, scale)


def _compare(ours, theirs, x, train: bool) -> tuple[float, float]:
    with torch.no_grad():
        torch.manual_seed(1)
        a = ours(x)
        torch.manual_seed(1)
        b = theirs(x)
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.shape != b.shape:
        return float("inf"), 0.0
    return float((a - b).abs().max()), float(b.abs().max())
