"""`basic`: the ResNet-18/34 block, two 3x3 convs, stride on the first."""

from archdsl.semantics.blocks import BlockType
from archdsl.semantics.blocks.residual import expand_stage, residual_options

BLOCK = BlockType("basic", expand_stage, residual_options("first"),
                  example="layer1 [2, [[64,3x3],[64,3x3]]]")
