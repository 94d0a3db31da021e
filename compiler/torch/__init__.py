"""IR -> torch.nn.Module, as straight-line code generated with torch.fx."""

from archdsl.backends.torch.lower import LoweringError, lower

__all__ = ["lower", "LoweringError"]
