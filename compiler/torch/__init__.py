"""IR -> torch.nn.Module, as straight-line code generated with torch.fx."""

from compiler.torch.lower import LoweringError, lower

__all__ = ["lower", "LoweringError"]
