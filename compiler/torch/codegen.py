"""Submodule look-ups in the generated forward read `_modules` directly.

torch.fx writes a call of the module at `layer1.0.conv1` as
`getattr(self.layer1, "0").conv1(x)`: three calls of nn.Module.__getattr__, a
Python function, for every layer on every forward. Written as
`self._modules["layer1"]._modules["0"]._modules["conv1"](x)` the same look-up is
three dict reads, and it still reads the live module tree (a replaced layer is
found; nothing is cached). A child's name can never shadow a class attribute
(`add_module` refuses that), so the two spellings find the same module.
"""

from __future__ import annotations

import re
from typing import Iterator

from torch import fx, nn

# `name = <target>(`, the target as torch.fx formats a module path: self.a, getattr(x, "0"), nested;
# a name that is no identifier is quoted (torchvision's RegNet names its blocks "block1-0")
_MODULE_CALL = re.compile(r'^(?P<lhs>\s*\w+ = )(?P<target>(?:getattr\()*self(?:\.\w+|, "[^"]+"\))*)\(')
_PART = re.compile(r'\.(\w+)|, "([^"]+)"\)')


def direct_lookups(graph: fx.Graph) -> None:
    """Make `graph`'s generated code look its submodules up through `_modules`."""
    graph.on_generate_code(lambda previous: lambda body: [_rewrite(line) for line in (previous or _same)(body)])


def _same(body: list[str]) -> list[str]:
    return body


def _rewrite(line: str) -> str:
    match = _MODULE_CALL.match(line)
    if not match:
        return line
    target = match["target"]
    parts = [dotted or quoted for dotted, quoted in _PART.findall(target)]
    if target.count("getattr(") != target.count('")') or not parts:
        return line
    lookup = "self" + "".join(f'._modules["{part}"]' for part in parts)
    return match["lhs"] + lookup + line[match.end() - 1:]


def forwards(module: nn.Module) -> Iterator[tuple[str, fx.GraphModule]]:
    """`module` and every unit inside it with a generated forward of its own, with their paths."""
    return ((path, m) for path, m in module.named_modules() if isinstance(m, fx.GraphModule))


def generated_code(module: nn.Module) -> str:
    """The generated forwards of `module` and of the units inside it, each under a line naming it."""
    parts = [f"# {path or 'the network'}: {type(m).__name__}\n{m.code.strip()}" for path, m in forwards(module)]
    return "\n\n".join(parts)
