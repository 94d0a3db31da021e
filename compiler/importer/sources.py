"""`archdsl import SOURCE`: the module a SOURCE names.

`torchvision:NAME`, `timm:NAME` (where those packages are installed) and `package.module:callable`
(a function or class returning an nn.Module, called without arguments); each may end with keyword
arguments in brackets, `torchvision:googlenet(aux_logits=False)`, read as Python literals.
"""

from __future__ import annotations

import ast
import importlib
import os
import sys

from archdsl.backends.importer.refusal import exception_line, refuse
from archdsl.diagnostics import did_you_mean

#: packages whose models SOURCE names as `PACKAGE:NAME`
ZOOS = ("torchvision", "timm")


def resolve(source: str):
    """The nn.Module `source` names (built with fresh weights), or a refusal E0801 saying why not."""
    import torch

    where, sep, rest = source.partition(":")
    if not sep or not where or not rest:
        _bad(source, "expected torchvision:NAME, timm:NAME or package.module:callable")
    name, kwargs = _call(rest, source)
    if where in ZOOS:
        module = _from_zoo(where, name, kwargs, source)
    else:
        module = _from_callable(where, name, kwargs, source)
    if not isinstance(module, torch.nn.Module):
        refuse("E0801", f"`{source}` gave a {type(module).__name__}, not a torch.nn.Module",
               help="name a function or class that returns the network's nn.Module")
    return module


def _bad(source: str, why: str):
    refuse("E0801", f"cannot read the source `{source}`: {why}",
           help="e.g. `archdsl import torchvision:resnet50 -o r.arch` or `archdsl import mymodule:make_net -o n.arch`")


def _call(text: str, source: str) -> tuple[str, dict]:
    """`NAME` or `NAME(key=value, ...)`: the name and the keyword arguments."""
    if "(" not in text:
        return text, {}
    try:
        call = ast.parse(text, mode="eval").body
        if not isinstance(call, ast.Call) or call.args:
            raise ValueError
        name = ast.unparse(call.func)
        return name, {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    except (SyntaxError, ValueError):
        _bad(source, "arguments are written as keywords with literal values, e.g. googlenet(aux_logits=False)")


def _from_zoo(package: str, name: str, kwargs: dict, source: str):
    try:
        zoo = importlib.import_module(package)
    except ImportError:
        refuse("E0801", f"`{source}` needs {package}, which is not installed",
               help=f"install it (`pip install {package}`) to import its models, or name your own module as "
                    "package.module:callable")
    known = zoo.models.list_models() if package == "torchvision" else zoo.list_models()
    if name not in known:
        hint = did_you_mean(name, known)
        refuse("E0801", f"{package} has no model `{name}`",
               help=hint or f"{package}'s models are listed by {package}"
                            f"{'.models' if package == 'torchvision' else ''}.list_models()")
    try:
        if package == "torchvision":
            return zoo.models.get_model(name, weights=None, **kwargs)
        return zoo.create_model(name, pretrained=False, **kwargs)
    except Exception as exc:  # a bad keyword argument, or the model's own refusal
        refuse("E0801", f"{package} could not build `{name}`: {exc}", help="check the keyword arguments")


def _from_callable(module_name: str, name: str, kwargs: dict, source: str):
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # `mymodule:make_net` from the current folder, as `python -m` finds it
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        refuse("E0801", f"cannot import `{module_name}`: {exc}", where=exception_line(exc),
               help="run archdsl from the folder that holds the module, or install its package")
    except Exception as exc:  # the module's own code failed
        refuse("E0801", f"importing `{module_name}` failed: {type(exc).__name__}: {exc}", where=exception_line(exc),
               label="raised here", help="fix the module so that it imports")
    target = module
    for part in name.split("."):
        if not hasattr(target, part):
            names = [n for n in dir(module) if not n.startswith("_")]
            refuse("E0801", f"`{module_name}` has no `{name}`",
                   help=did_you_mean(part, names) or "name a function or class of that module")
        target = getattr(target, part)
    if not callable(target):
        refuse("E0801", f"`{source}` is a {type(target).__name__}, not a function or class",
               help="name a function or class that returns the network's nn.Module")
    try:
        return target(**kwargs)
    except Exception as exc:
        refuse("E0801", f"`{source}` failed: {type(exc).__name__}: {exc}", where=exception_line(exc),
               label="raised here", help="it is called without arguments (or the keywords given); fix it or wrap it")
