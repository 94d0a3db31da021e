"""Refusals: what the importer cannot express becomes a diagnostic, never a spec that differs.

A refusal names the module path and the op; where torch.fx recorded the Python line that made
the op (`node.stack_trace`), or where tracing itself failed, the diagnostic points at that line
of the user's file.
"""

from __future__ import annotations

import io
import linecache
import os
import re
import tokenize
import traceback

from archdsl.diagnostics import Diagnostic, Source, Span, error

#: a frame of a stack trace as fx records it: `  File "PATH", line N, in NAME`
_FRAME = re.compile(r'^\s*File "(.+)", line (\d+), in (\S+)', re.M)


class Refusal(Exception):
    """The module cannot be written as a spec; carries the diagnostic that says why."""

    def __init__(self, diagnostic: Diagnostic):
        self.diagnostic = diagnostic
        super().__init__(diagnostic.message)


def refuse(code: str, message: str, *, where: tuple[str, int] | None = None, label: str = "", help: str = ""):
    """Raise a Refusal whose span is the Python line `where` (file, line), when it can be read."""
    raise Refusal(error(code, message, python_span(where), label, help))


def python_span(where: tuple[str, int] | None) -> Span | None:
    """A span over one line of a Python file (from its first non-blank character), or None."""
    if where is None:
        return None
    path, line = where
    text = linecache.getline(path, line)
    if not text:
        return None
    lines = [linecache.getline(path, n) for n in range(1, line + 1)]
    source = Source(path, "".join(lines))
    body = _code(text.rstrip("\n"))
    start = len(body) - len(body.lstrip()) + 1
    return Span(source, line, start, line, len(body) + 1)


def _code(line: str) -> str:
    """The line without a trailing comment."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(line).readline):
            if token.type == tokenize.COMMENT:
                return line[:token.start[1]].rstrip()
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return line


def _is_library(path: str) -> bool:
    """A frame inside torch, Python's own library or the importer: it says nothing about the user's code."""
    import torch

    folders = (os.path.dirname(torch.__file__), os.path.dirname(__file__), os.path.dirname(os.__file__))
    return path.startswith(folders) or path.startswith("<")


def user_line(stack_trace: str | None) -> tuple[str, int] | None:
    """The innermost frame of an fx stack trace outside torch: the line of Python that made the op."""
    if not stack_trace:
        return None
    frames = [(path, int(line)) for path, line, _ in _FRAME.findall(stack_trace) if not _is_library(path)]
    return frames[-1] if frames else None


def exception_line(exc: BaseException) -> tuple[str, int] | None:
    """The innermost frame of an exception's traceback outside torch."""
    frames = [(f.filename, f.lineno) for f in traceback.extract_tb(exc.__traceback__)
              if not _is_library(f.filename)]
    return frames[-1] if frames else None
