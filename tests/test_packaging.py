"""The wheel: every package listed, the bundled specs inside as archdsl/specs, no development tools,
and, unpacked away from the checkout, networks by name work."""

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile

import pytest

from conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_folder_is_listed_in_pyproject():
    folders = {p.parent.relative_to(ROOT).as_posix().replace("/", ".").replace("compiler", "archdsl.backends", 1)
               for top in ("archdsl", "compiler") for p in (ROOT / top).rglob("__init__.py")}
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert listed - {"archdsl.specs"} == folders
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"archdsl.specs": "specs", "archdsl.backends": "compiler"}


def test_graphviz_is_a_dependency_and_the_extras_hold_onnx():
    deps = PYPROJECT["project"]["dependencies"]
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert any(d.startswith("graphviz") for d in deps)
    assert {d.split(">")[0] for d in extras["onnx"]} == {"onnx", "onnxscript", "onnxruntime"}
    assert "archdsl[onnx,safetensors,lsp]" in extras["test"]
    assert {d.split(">")[0] for d in extras["lsp"]} == {"pygls", "lsprotocol", "pygments"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           str(ROOT), "-w", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (path,) = out.glob("archdsl-*.whl")
    return path


def test_the_wheel_holds_the_specs_and_no_tools(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    specs = {p.relative_to(ROOT / "specs").as_posix() for p in (ROOT / "specs").rglob("*.arch")}
    assert {f"archdsl/specs/{s}" for s in specs} | {"archdsl/specs/models.txt", "archdsl/prelude.arch"} <= names
    assert not [n for n in names if "gallery" in n or n.startswith(("docs/", "tools/", "tests/", "specs/"))]
    assert {n.split("/", 1)[0] for n in names if not n.startswith("archdsl-")} == {"archdsl"}  # no `compiler` at the top
    assert "archdsl/backends/torch/ops.py" in names


def test_names_work_from_the_unpacked_wheel_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "work"
    (work / "compiler").mkdir(parents=True)  # a folder with a `compiler` package of its own
    (work / "compiler" / "__init__.py").write_text("")
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("ARCHDSL_PATH", None)

    def run(*args, code=None):
        command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "archdsl", *args]
        done = subprocess.run(command, capture_output=True, text=True, cwd=work, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    listed = run("list", "--names").split()
    from archdsl.zoo import list_models

    assert listed == list_models() and "resnet50" in listed
    run("summary", "resnet18", "--depth", "1")
    assert run("compile", "resnet50", "--check").startswith("ok: resnet50: 25,557,032 parameters")
    if shutil.which("dot"):
        run("render", "resnet50", "-o", "r.svg")
        assert (work / "r.svg").read_text().lstrip().startswith("<?xml")
    out = run(code="import archdsl, torch; m = archdsl.build('resnet50', num_classes=3); "
                   "print(archdsl.__file__); print(tuple(m(torch.zeros(1, 3, 64, 64)).shape))")
    assert out.split() == [str(site / "archdsl" / "__init__.py"), "(1,", "3)"]
