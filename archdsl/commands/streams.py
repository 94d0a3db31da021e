"""The command line's standard streams: closed, full or broken ones, and internal errors.

While a command runs, sys.stdout and sys.stderr are wrapped so that a failed write raises
OutputError, told apart from any other OSError: a broken pipe on stdout ends the command
quietly with status 0 (as `archdsl summary x.arch | head` should), any other output failure
with one line on stderr and status 1. A closed stream (`>&-`, `2>&-`, where Python's is None)
is one that fails on the first write (stdout) or one that discards what is written (stderr).
"""

from __future__ import annotations

import errno
import os
import sys
from contextlib import contextmanager

from archdsl.diagnostics import error, to_json_lines


class OutputError(Exception):
    """Writing to stdout or stderr failed."""

    def __init__(self, stream: str, cause: OSError):
        super().__init__(f"{stream}: {cause.strerror or cause}")
        self.stream, self.cause = stream, cause


class _Guarded:
    """A text stream whose write and flush raise OutputError instead of OSError."""

    def __init__(self, stream, name: str):
        self._stream, self._name = stream, name

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise OutputError(self._name, exc) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputError(self._name, exc) from exc

    def __getattr__(self, name):
        return getattr(self._stream, name)


class _Closed:
    """What a closed stdout is: every write fails as writing to a closed descriptor does."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "the standard output is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


@contextmanager
def guarded_streams():
    """sys.stdout and sys.stderr wrapped for the duration (see the module's docstring)."""
    out, err = sys.stdout, sys.stderr
    sys.stdout = _Guarded(out if out is not None else _Closed(), "stdout")
    sys.stderr = _Guarded(err if err is not None else open(os.devnull, "w"), "stderr")
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


def output_failed(exc: OutputError) -> int:
    """The exit status after an output failure, after saying so on stderr where that still works.

    The broken stream's descriptor is pointed at /dev/null, so that the interpreter's own flush
    at exit finds nothing left to fail on."""
    _silence(exc.stream)
    if exc.stream == "stdout" and exc.cause.errno == errno.EPIPE:
        return 0
    if exc.stream == "stdout":
        try:
            print(f"error: cannot write the output: {exc.cause.strerror or exc.cause}", file=sys.stderr)
            sys.stderr.flush()
        except (OutputError, OSError):
            _silence("stderr")
    return 1


def _silence(stream: str) -> None:
    target = sys.__stdout__ if stream == "stdout" else sys.__stderr__
    try:
        fd = target.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (AttributeError, OSError, ValueError):  # no descriptor (a closed stream, or a test's capture)
        pass


def internal_error(exc: Exception, json_format: bool = False) -> int:
    """A bug in archdsl: one line (one JSON object under --format json), not a traceback."""
    message = f"internal error in archdsl: {type(exc).__name__}: {exc}"
    hint = "this is a bug in archdsl, not in your spec; please report it"
    if json_format:
        print(to_json_lines([error("E9999", message, None, "", hint)]), file=sys.stderr)
    else:
        print(f"error[E9999]: {message}\n  = help: {hint}", file=sys.stderr)
    return 1
