"""The reference cards: the fill rule and the logits check they define."""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path

CARDS = Path(__file__).parent / "goldens" / "cards"


def load_card(name: str) -> dict:
    return json.loads((CARDS / f"{name}.json").read_text())


def fill(module) -> None:
    """Fill every state_dict entry by the cards' key-seeded rule."""
    import torch

    state = module.state_dict()
    filled = {key: _fill_one(key, tuple(t.shape), t.dtype) for key, t in state.items()}
    module.load_state_dict(filled, strict=True)


def _fill_one(key: str, shape: tuple[int, ...], dtype):
    import torch

    g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    if key.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=dtype)
    if key.endswith("running_var"):
        return 0.5 + torch.rand(shape, generator=g)
    if key.endswith("running_mean") or key.endswith("bias"):
        return 0.1 * torch.randn(shape, generator=g)
    if len(shape) == 1:
        return 1.0 + 0.1 * torch.randn(shape, generator=g)
    fan_in = math.prod(shape[1:])
    return torch.randn(shape, generator=g) * math.sqrt(1 / fan_in)


def card_input(shape, seed: int):
    import torch

    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def relative_error(ours, ref) -> float:
    import torch

    ref = torch.as_tensor(ref, dtype=torch.float32)
    return float(torch.linalg.norm(ours - ref) / torch.linalg.norm(ref))
