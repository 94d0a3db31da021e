"""Every IR op, one class each, grouped by family; importing the package registers them all."""

from archdsl.ir.ops import act, conv, linear, merge, norm, pool, reshape, tensor  # noqa: F401  (registration)
from archdsl.ir.ops.base import REGISTRY

__all__ = ["REGISTRY"]
