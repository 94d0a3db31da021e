"""Networks by name: the bundled specs, and the user's own folders named in ARCHDSL_PATH.

Each folder on the search path may hold a `models.txt` registry, one network a line:

    NAME  SPEC  SOURCE  [PARAM=VALUE ...]  [input=CxHxW]

so a name maps to a spec file plus parameter overrides (a family spec serves several
names). A .arch file that no line names is known by its file name, with no source.
Folders in ARCHDSL_PATH (os.pathsep-separated) come first; the first folder holding a
name wins. Reading the registry parses no spec and imports no torch. A registry, and a spec a
folder holds, count only where their resolved paths lie inside that folder (see archdsl.sources):
a link out of a folder on the path names nothing.

A block library (a file of only `block` and `use` lines) is no network, but can be named where
a spec is read to be checked on its own (`archdsl compile torchvision_blocks --check`).
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from archdsl.sources import inside, leads_out

REGISTRY = "models.txt"
ENV = "ARCHDSL_PATH"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


@dataclass(frozen=True)
class Model:
    """One network that can be named: its spec file, and the values it is loaded with."""

    name: str
    path: Path
    source: str = "-"
    params: dict[str, str] = field(default_factory=dict)
    input: str | None = None

    def arguments(self) -> str:
        """The command-line form of the values this name sets: `-D variant=b3 --input 3x300x300`."""
        words = [f"-D {k}={v}" for k, v in self.params.items()]
        return " ".join(words + ([f"--input {self.input}"] if self.input else []))


def bundled_folder() -> Path:
    """The bundled specs: archdsl/specs in an installed wheel, specs/ in a source checkout."""
    here = Path(__file__).resolve().parent
    installed = here / "specs"
    if installed.is_dir():
        return installed
    return here.parent / "specs"


def search_path() -> list[Path]:
    """The folders searched for names: those in ARCHDSL_PATH, in order, then the bundled specs."""
    given = [Path(p).expanduser() for p in os.environ.get(ENV, "").split(os.pathsep) if p.strip()]
    return [*given, bundled_folder()]


def models() -> dict[str, Model]:
    """Every network that can be named, by name (the first folder on the search path wins)."""
    found: dict[str, Model] = {}
    for folder in search_path():
        for model in folder_models(folder)[0]:
            found.setdefault(model.name, model)
    return found


def problems() -> list[str]:
    """The registry lines on the search path that could not be read, as `file:line: why`."""
    return [problem for folder in search_path() for problem in folder_models(folder)[1]]


def folder_models(folder: Path) -> tuple[list[Model], list[str]]:
    """The networks one folder names: its registry's lines, then each .arch file left unnamed;
    and the registry lines that could not be read."""
    listed, problems = read_registry(folder / REGISTRY)
    named = {model.path.resolve() for model in listed}
    unnamed = [Model(path.stem, path) for path in spec_files(folder)
               if path.resolve() not in named and not is_library(path)]
    return listed + unnamed, problems


def spec_files(folder: Path) -> list[Path]:
    """The .arch files under `folder`, sorted, but for any whose resolved path leaves it."""
    try:
        files = sorted(folder.rglob("*.arch")) if folder.is_dir() else []
    except OSError:
        files = []
    return [path for path in files if inside(path, folder)]


def is_library(path: Path) -> bool:
    """A file of block definitions for `use` (every top-level line a `block`, a `use` or a
    comment), not a network."""
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines()
                 if line.strip() and not line[0].isspace()]
    except OSError:
        return False
    return bool(lines) and all(line.startswith("#") or line.split()[0] in ("block", "use") for line in lines)


def read_registry(path: Path, only: str | None = None) -> tuple[list[Model], list[str]]:
    """The lines of one models.txt; a missing file names nothing, one leading out of its folder
    (a link to elsewhere) is not read and is a problem. With `only`, the lines naming that
    network alone are read (each other line costs a look at its file)."""
    if leads_out(path, path.parent):
        return [], [f"{path}: leads outside {path.parent} (a link to a file elsewhere), so it is not read"]
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return [], []
    listed, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words or (only is not None and words[0] != only):
            continue
        model, why = registry_line(path.parent, words)
        if model is None:
            problems.append(f"{path}:{number}: {why}")
        else:
            listed.append(model)
    return listed, problems


def registry_line(folder: Path, words: list[str]) -> tuple[Model | None, str]:
    """One registry line as a Model, or None and why it cannot be one."""
    if len(words) < 3:
        return None, "expected NAME SPEC SOURCE [PARAM=VALUE ...] [input=CxHxW]"
    name, spec, source, *values = words
    if not _NAME.fullmatch(name):
        return None, f"`{name}` is not a name"
    path = folder / spec
    if not inside(path, folder):
        return None, f"{name}: `{spec}` leads outside {folder}, so it is not read"
    if not path.is_file():
        return None, f"{name}: no spec `{spec}` in {folder}"
    params, size = {}, None
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.isidentifier() or not text:
            return None, f"{name}: expected PARAM=VALUE, got `{value}`"
        if key == "input":
            size = text
        else:
            params[key] = text
    return Model(name, path, source, params, size), ""


def list_models(pattern: str = "*") -> list[str]:
    """The names of the networks that can be built by name, sorted; `pattern` is a shell-style
    wildcard as in timm's `list_models('resnet*')` (`*`, `?`, `[seq]`)."""
    return sorted((name for name in models() if fnmatch.fnmatchcase(name, pattern)), key=_natural)


def _natural(name: str) -> list:
    """resnet18 before resnet101: numbers in names compare as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


def find(name: str) -> Model | None:
    """The network called `name`, or None: as `models().get(name)`, but a name its folder's
    registry lists is found without looking at every other file on the search path."""
    for folder in search_path():
        listed = read_registry(folder / REGISTRY, only=name)[0]
        if listed:
            return listed[0]
        found = next((model for model in folder_models(folder)[0] if model.name == name), None)
        if found is not None:
            return found
    return None


def is_name(text) -> bool:
    """Whether a spec argument could be a network's name rather than a path or a spec's text."""
    return isinstance(text, str) and _NAME.fullmatch(text) is not None and not text.endswith(".arch")


def resolve(spec, params: dict | None, input_size):
    """A bundled or ARCHDSL_PATH name as (its spec file, its parameters under the caller's, the
    caller's input size or its own); anything else, and a path that exists, as it came."""
    if not is_name(spec) or Path(spec).exists():
        return spec, params, input_size
    model = find(spec)
    if model is None:
        return find_library(spec) or spec, params, input_size
    merged = {**model.params, **(params or {})}
    return model.path, merged, input_size if input_size is not None else model.input


def find_library(name: str) -> Path | None:
    """The block library called `name` (its file's stem) in the first folder on the search path
    holding one, or None."""
    for folder in search_path():
        found = next((path for path in spec_files(folder) if path.stem == name and is_library(path)), None)
        if found is not None:
            return found
    return None


def is_unknown_name(spec) -> bool:
    """Whether `spec`, as `resolve` left it, is a name that neither a file nor a network has."""
    return is_name(spec) and not os.path.lexists(spec)


def unknown_name(text: str):
    """E0001 for a name that is no file and no network, with the nearest name if one is near."""
    from archdsl.diagnostics import error

    return error("E0001", f"no such file or bundled network: `{text}`", None, "",
                 near_name(text) or "`archdsl list` shows the bundled networks; or give the path of a .arch file")


def near_name(text: str) -> str:
    """A 'did you mean' hint for a misspelt network name, or the empty string."""
    from archdsl.diagnostics import did_you_mean

    return did_you_mean(text, models()) if is_name(text) else ""
