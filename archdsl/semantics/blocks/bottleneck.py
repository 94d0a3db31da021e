"""`bottleneck`: 1x1 reduce, 3x3, 1x1 expand; the stride sits on the 3x3 (ResNet v1.5)
unless `stride_at=first` (v1). With `groups` it is the ResNeXt block."""

from archdsl.semantics.blocks import BlockType
from archdsl.semantics.blocks.residual import expand_stage, residual_options

BLOCK = BlockType("bottleneck", expand_stage, residual_options("3x3"),
                  example="layer1 [3, [[64,1x1],[64,3x3],[256,1x1]]]")
