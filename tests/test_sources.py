"""The spec reader (archdsl.sources): a spec and its libraries are read only from inside the
spec's folder, so a link out of it (an archive of specs can hold symlinks) leaks nothing; the
same for the folders on ARCHDSL_PATH. And the reader sits below the semantics: no import runs
back up from archdsl.semantics to archdsl.api."""

import ast

import pytest

import archdsl
from archdsl import zoo
from archdsl.cli import main
from conftest import ROOT

SECRET = "root:x:0:0:the-secret-first-line:/root:/bin/bash\n"
SPEC = "network t\ninput 3x8x8\nuse passwd\nconv 4 3x3\n"
TINY = "network tiny\ninput 3x8x8\nconv 4 3x3\n"


@pytest.fixture
def secret(tmp_path):
    """A file outside every spec folder, like /etc/passwd."""
    outside = tmp_path / "outside"
    outside.mkdir()
    path = outside / "passwd"
    path.write_text(SECRET)
    return path


def run(argv, capsys) -> tuple[int, str]:
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_a_library_linked_out_of_the_folder_is_not_read(tmp_path, secret, capsys):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "passwd.arch").symlink_to(secret)
    (lib / "t.arch").write_text(SPEC)
    status, shown = run(["compile", str(lib / "t.arch"), "--check"], capsys)
    assert status == 1
    assert "E0222" in shown and "passwd.arch" in shown and "leads outside" in shown
    assert "root:x:0:0" not in shown and str(secret) not in shown


def test_a_spec_given_by_a_link_out_of_its_folder_is_not_read(tmp_path, secret, capsys):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "t.arch").symlink_to(secret)
    status, shown = run(["compile", str(specs / "t.arch"), "--check", "--format", "json"], capsys)
    assert status == 1 and '"E0222"' in shown
    assert "root:x:0:0" not in shown and str(secret) not in shown
    found = archdsl.check(specs / "t.arch")
    assert [d.code for d in found] == ["E0222"] and found[0].span is None


def test_a_dangling_link_out_of_the_folder_is_refused_the_same_way(tmp_path):
    (tmp_path / "t.arch").symlink_to(tmp_path.parent / "no-such-target.arch")
    assert [d.code for d in archdsl.check(tmp_path / "t.arch")] == ["E0222"]


def test_links_inside_the_folder_are_read(tmp_path):
    (tmp_path / "real_blocks.arch").write_text("block cbr out\n  conv out 3x3 pad=1\n  relu\n")
    (tmp_path / "blocks.arch").symlink_to(tmp_path / "real_blocks.arch")
    (tmp_path / "net.arch").write_text("network t\ninput 3x8x8\nuse blocks\ncbr 4\n")
    (tmp_path / "alias.arch").symlink_to("net.arch")
    assert archdsl.check(tmp_path / "alias.arch") == []


def test_archdsl_path_ignores_links_out_of_its_folders(tmp_path, secret, monkeypatch, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "tiny.arch").write_text(TINY)
    (mine / "leaked.arch").symlink_to(secret)
    (mine / "models.txt").symlink_to(secret)
    monkeypatch.setenv("ARCHDSL_PATH", str(mine))
    assert "tiny" in zoo.models() and "leaked" not in zoo.models()
    (problem,) = zoo.problems()
    assert "models.txt" in problem and "leads outside" in problem and "root:x:0:0" not in problem
    status, shown = run(["compile", "leaked", "--check"], capsys)
    assert status == 1 and "no such file or bundled network" in shown and "root:x:0:0" not in shown


def test_a_registry_line_cannot_name_a_spec_out_of_its_folder(tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    (tmp_path / "elsewhere.arch").write_text(TINY)
    (mine / "models.txt").write_text("away  ../elsewhere.arch  mine:away\n")
    monkeypatch.setenv("ARCHDSL_PATH", str(mine))
    assert "away" not in zoo.models()
    assert [p.split(": ", 1)[1] for p in zoo.problems()] == ["away: `../elsewhere.arch` leads outside " + str(mine)
                                                            + ", so it is not read"]


def test_a_bundled_block_library_can_be_named_like_a_network(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status, shown = run(["compile", "torchvision_blocks", "--check"], capsys)
    assert status == 0, shown
    assert shown.startswith("ok: block library torchvision_blocks: ")
    assert archdsl.check("torchvision_blocks") == []
    assert "torchvision_blocks" not in archdsl.list_models()  # a library is still no network


def test_an_unknown_name_still_gets_the_nearest_network(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status, shown = run(["compile", "resnet5", "--check"], capsys)
    assert status == 1 and "no such file or bundled network: `resnet5`" in shown and "resnet50" in shown


def imported_modules(path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def test_no_import_runs_back_up_from_the_semantics_or_the_reader():
    below_api = [*sorted((ROOT / "archdsl" / "semantics").rglob("*.py")), ROOT / "archdsl" / "sources.py"]
    reaching_up = {str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path)
                                                       if m in ("archdsl.api", "archdsl.cli", "archdsl.zoo"))
                   for path in below_api}
    assert {path: found for path, found in reaching_up.items() if found} == {}
    assert {m for m in imported_modules(ROOT / "archdsl" / "sources.py") if m.startswith("archdsl")} == {
        "archdsl.diagnostics"}
