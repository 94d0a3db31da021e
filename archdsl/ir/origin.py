"""Where a node came from: the frames of the spec that enclose it (torch.fx's Node.meta, kept typed).

Each node records, outermost first, the rows, blocks and scopes whose statements made it, so
the back ends (summary, diagrams) tell a stage from a block from a plain scope by reading the IR
alone, never the source.
"""


from typing import Literal

from pydantic import BaseModel, ConfigDict


class Frame(BaseModel):
    """One enclosing construct: a stage `row` (of a built-in or user block type), one `block`
    (a unit of a user block, a `residual` or a `concat`), or a named `scope`."""

    model_config = ConfigDict(frozen=True)
    role: Literal["row", "block", "scope"]
    #: the module path of the construct (`layer3`, `features.2`, `layer1.0`)
    path: str
    #: the block type or user block (`bottleneck`, `inverted_residual`), `residual`, `concat` or `scope`
    kind: str
    #: for one block instance applied to several values (shared weights): which application this is
    #: (0 for the first, whose nodes own the state); None for a block applied once
    application: int | None = None
    #: to how many values that instance is applied (None for a block applied once)
    shared_by: int | None = None
