"""The one-line verdicts of `compile --check`: a network's size, a block library's blocks.

archdsl.cli (one spec) and archdsl.commands.many (several) both print them.
"""

from __future__ import annotations


def verdict(graph, seconds: float) -> str:
    """The one-line size report, from the same totals as `archdsl summary`."""
    from archdsl.backends.summary.table import macs_text, size

    params, macs = size(graph)
    return (f"ok: {graph.name}: {params:,} parameters, {macs_text(macs)} "
            f"at {graph.input_type} -> {graph.outputs_text()} ({seconds:.2f}s)")


def library_verdict(library, seconds: float) -> str:
    """`ok: block library torchvision_blocks: 5 blocks (conv_bn_act, ...)`."""
    names = [block.name for block in library.blocks]
    shown = ", ".join(names[:MAX_NAMED]) + (f", and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else "")
    uses = f"; uses {', '.join(library.uses)}" if library.uses else ""
    return (f"ok: block library {library.name}: {len(names)} block{'' if len(names) == 1 else 's'} ({shown}){uses} "
            f"({seconds:.2f}s)")


#: the most block names a library's verdict lists
MAX_NAMED = 20
