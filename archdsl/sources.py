"""Reading a spec's text: from a path, a string, an open stream or bytes, with every check a
file gets before it is parsed (its kind, size and encoding, and where it lies).

A spec, and each library it uses, is read only from inside the spec's own folder: a file whose
resolved path leaves that folder (a symlink to elsewhere) is refused by name (E0222), and
nothing of its target is opened or shown. This module is below the rest of archdsl: it imports
only archdsl.diagnostics, so the API, the semantics and the command line all read through it.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from pathlib import Path

from archdsl.diagnostics import Diagnostic, Source, Span, did_you_mean, error

MAX_SPEC_BYTES = 4 * 1024 * 1024


def read_source(spec) -> tuple[Source | None, list[Diagnostic]]:
    """A spec given as a path (str or os.PathLike), as text, or as a Source. Text is a string
    containing a newline or starting with `network `. An empty string is neither a path nor a
    spec worth checking (most often an unset path, or a file read empty): E0001 says so.
    Raises TypeError for any other kind of value."""
    if isinstance(spec, Source):
        return spec, []
    if isinstance(spec, str):
        if not spec.strip():
            return None, [error("E0001", "the spec is an empty string: no path and no text", None, "",
                                "give the path of a .arch file, or the spec's text")]
        if "\n" in spec or spec.removeprefix("\ufeff").lstrip().startswith("network "):
            return text_source("<string>", spec), []
    elif not isinstance(spec, os.PathLike):
        raise TypeError(f"the spec must be a path, the spec's text or an archdsl Source (build also takes "
                        f"the Graph load returns), not {type(spec).__name__}")
    return read_file(Path(spec))


def read_file(path: Path) -> tuple[Source | None, list[Diagnostic]]:
    """The spec at `path`; E0001 for anything but a readable regular file, E0003 past MAX_SPEC_BYTES,
    E0222 for a link whose target lies outside the folder `path` names (the spec's own).

    A FIFO, a device or a socket is refused from its file type before it is opened, so
    reading can neither block nor run on forever; at most MAX_SPEC_BYTES + 1 bytes are read.
    """
    name = str(path)
    if leads_out(path, path.parent):
        return None, [outside_error(path)]
    try:
        kind = stat.S_IFMT(path.stat().st_mode)
        if kind != stat.S_IFREG:
            what = _FILE_KINDS.get(kind, "a special file")
            return None, [error("E0001", f"`{name}` is {what}, not a spec", None, "", "give the path of a .arch file")]
        with path.open("rb") as file:
            return read_stream(name, file)
    except FileNotFoundError:
        return None, [error("E0001", f"no such file: `{name}`", None, "", _missing_file_hint(path))]
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, [error("E0001", f"cannot read `{name}`: {reason}", None, "", "check the path and its permissions")]


def read_stream(name: str, stream) -> tuple[Source | None, list[Diagnostic]]:
    """The spec in an open binary stream (a file, or standard input for the command line's `-`),
    reported under `name`: at most MAX_SPEC_BYTES + 1 bytes are read (E0003 past the limit), then
    decoded as `decode` does. An OSError while reading is the caller's to report."""
    data = stream.read(MAX_SPEC_BYTES + 1)
    if len(data) > MAX_SPEC_BYTES:
        return None, [error("E0003", f"`{name}` is larger than {MAX_SPEC_BYTES // (1024 * 1024)} MiB", None,
                            "", "a spec is a short text file; is this the right file?")]
    return decode(name, data)


def _missing_file_hint(path: Path, most: int = 2000) -> str:
    """A near name beside a missing spec (`resnet5.arch` -> `resnet50.arch`), or the same name under
    ./specs; listing at most `most` entries of a folder, so a huge one cannot stall the answer."""
    folder = path.parent
    if not folder.is_dir():
        return f"there is no folder `{folder}`"
    try:
        names = [entry.name for _, entry in zip(range(most), os.scandir(folder)) if entry.name.endswith(".arch")]
    except OSError:
        names = []
    bundled = Path("specs") / path.name
    if path.parent == Path(".") and bundled.is_file():
        return f"did you mean `{bundled}`?"
    near = did_you_mean(path.name, names)
    if near:
        return near.replace("`", f"`{folder}/" if folder != Path(".") else "`", 1)
    listed = ", ".join(sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
    return "check the path" + (f"; specs there: {listed}" if names else "")


_FILE_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket",
               stat.S_IFCHR: "a device", stat.S_IFBLK: "a device"}


def decode(name: str, data: bytes) -> tuple[Source | None, list[Diagnostic]]:
    """The spec in `data`, read as UTF-8 (a leading byte-order mark is dropped, and columns
    count from the first character after it); E0002 for anything that is not UTF-8 text."""
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[:exc.start].decode("utf-8")  # valid up to the bad byte; columns count characters
        line = before.count("\n") + 1
        col = len(before) - before.rfind("\n")
        shown = Source(name, data.decode("utf-8", errors="replace"))
        return None, [error("E0002", "the file is not UTF-8 text", Span(shown, line, col, line, col + 1),
                            f"byte 0x{data[exc.start]:02x}", "save the spec as UTF-8")]
    if "\x00" in text:
        at = text.index("\x00")
        line, col = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
        return None, [error("E0002", f"`{name}` is a binary file, not a spec", Span(Source(name, text), line, col,
                            line, col + 1), "a NUL byte", "give the path of a .arch text file")]
    return text_source(name, text), []


def text_source(name: str, text: str) -> Source:
    """A spec's text as a Source: without a leading byte-order mark, with Unix line ends."""
    return Source(name, text.removeprefix("\ufeff").replace("\r\n", "\n"))


def inside(path: Path, folder: Path) -> bool:
    """Whether `path`, every link in it followed, lies inside `folder` (also resolved); False for a
    path that cannot be resolved (a loop of links)."""
    resolved = _resolved(path)
    return resolved is not None and _under(resolved, folder)


def leads_out(path: Path, folder: Path) -> bool:
    """Whether `path` is there (a dangling link too) and resolves to somewhere outside `folder`; a
    path that does not resolve (a loop of links) is left to reading, which says why it cannot."""
    if not os.path.lexists(path):
        return False
    resolved = _resolved(path)
    return resolved is not None and not _under(resolved, folder)


def _under(resolved: Path, folder: Path) -> bool:
    """Whether a resolved path lies inside `folder`, resolved (False where it cannot be)."""
    home = _resolved(folder)
    return home is not None and resolved.is_relative_to(home)


def _resolved(path: Path) -> Path | None:
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError, ValueError):  # RuntimeError: a loop of links (Python before 3.13)
        return None


def outside_error(path: Path) -> Diagnostic:
    """E0222 for a spec file that leads out of its folder: it names the link, never the target."""
    return error("E0222", f"`{path}` leads outside its folder (a link to a file elsewhere), so it is not read",
                 None, "", "a spec reads only files inside its own folder: copy the file there instead of "
                           "linking to it")


#: a line only Python has: an import, a def or class, a decorator, a docstring, a main guard, a python shebang
PYTHON_LINE = re.compile(r"\s*(import [\w.]+|from [\w.]+ import\b|def \w+\s*\(|class \w+\s*[(:]|@[\w.]+\s*(\(|$)"
                         r"|\"\"\"|\'\'\'|if __name__\s*==|#!.*\bpython)")


def python_file(source: Source) -> list[Diagnostic]:
    """For a spec that does not check, named `.py` or opening (after blank and comment lines) with
    a line only Python has, the one diagnostic that matters (E0007), at that line; else nothing.
    Python lines further down a spec that opens as one are its errors, reported as such."""
    lines = source.text.split("\n")
    first = next((n for n, text in enumerate(lines, 1) if text.strip() and (
        not text.lstrip().startswith("#") or PYTHON_LINE.match(text))), None)
    line = first if first is not None and PYTHON_LINE.match(lines[first - 1]) else None
    if line is None and not source.name.lower().endswith((".py", ".pyw")):
        return []
    line = line or 1
    width = len(lines[line - 1].rstrip()) or 1
    return [error("E0007", "this looks like Python, not a spec", Span(source, line, 1, line, width + 1),
                  "Python" if PYTHON_LINE.match(lines[line - 1]) else "a Python file",
                  "archdsl reads specs written in its own language (docs/language.md; `archdsl show resnet50` "
                  "prints one to start from); from Python, build one with `archdsl.build(\"net.arch\")`")]
