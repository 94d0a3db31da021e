"""Write the example checkpoints beside this file from tiny.arch's state (run after changing it):

    python3 tests/checkpoints/make.py
"""

from pathlib import Path
import sys

import torch
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from archdsl import load  # noqa: E402
from archdsl.ir.state import state_entries  # noqa: E402


def state(**params) -> dict:
    """tiny's state_dict, each tensor filled with its own index so a load can be checked."""
    return {e.key: torch.full(e.shape, float(i)) for i, e in enumerate(state_entries(load(HERE / "tiny.arch", **params)))}


def main() -> None:
    mixed = state()
    mixed["conv2.weight"] = torch.zeros(16, 8, 3, 3)  # made for groups=1
    del mixed["bn2.running_var"]
    mixed["conv3.weight"] = torch.zeros(4, 16, 1, 1)
    save_file(mixed, str(HERE / "tiny_mixed.safetensors"))
    save_file(state(num_classes=1000), str(HERE / "tiny_1000_classes.safetensors"))


if __name__ == "__main__":
    main()
