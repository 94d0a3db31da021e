"""The language server (`archdsl lsp`), end to end: a real client session over JSON-RPC on stdio
(initialize, a broken spec's diagnostics at their ranges, the fix clearing them, hover, go to
definition across a library, completion, quick fixes, the outline, a clean shutdown); and the
analysis behind it, in process, on every bundled spec."""

import time

import pytest

pytest.importorskip("pygls")

from archdsl.lsp.document import analyse_text, char_column, client_column  # noqa: E402
from archdsl.lsp.navigate import Libraries, definition_of, path_at, word_at, words  # noqa: E402
from conftest import SPECS, bundled_specs  # noqa: E402
from lsp_client import Client  # noqa: E402

LIBRARY = """\
# blocks for the test spec
block conv_bn out kernel=3
  conv out kernel pad=kernel // 2
  bn
  relu
"""

BROKEN = """\
network tiny
use tiny_blocks
input 3x32x32
param width = 16

stem
  c1 conv width 3x3 pad=1
  bnn
  c1 relu
  b1 conv_bn 32 kernel=3
  let doubled = width * 2
  c2 conv doubled 1x1 from b1
head
  global_avgpool
  flatten
  fc linear 10
"""
FIXED = BROKEN.replace("  bnn\n", "  bn\n").replace("  c1 relu\n", "  r1 relu\n")


def at(text: str, line_text: str, word: str, nth: int = 0) -> dict:
    """The LSP position of the `nth` `word` on the first line that starts with `line_text`."""
    lines = text.split("\n")
    line = next(i for i, s in enumerate(lines) if s.startswith(line_text))
    col = -1
    for _ in range(nth + 1):
        col = lines[line].index(word, col + 1)
    return {"line": line, "character": col + 1}


@pytest.fixture()
def session(tmp_path):
    (tmp_path / "tiny_blocks.arch").write_text(LIBRARY)
    spec = tmp_path / "tiny.arch"
    spec.write_text(BROKEN)
    client = Client()
    try:
        yield client, spec
    finally:
        if client.proc.poll() is None:
            client.proc.kill()
            client.proc.wait()


def test_a_client_session_from_initialize_to_shutdown(session):
    client, spec = session
    uri = spec.as_uri()
    init = client.request("initialize", {"processId": None, "rootUri": spec.parent.as_uri(), "capabilities": {},
                                         "initializationOptions": {"errorsUrl": "https://example.org/errors.md"}})
    caps = init["capabilities"]
    assert caps["hoverProvider"] and caps["definitionProvider"] and caps["documentSymbolProvider"]
    client.notify("initialized")

    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "arch", "version": 1,
                                                            "text": BROKEN}})
    found = client.diagnostics(uri, 1)
    by_code = {d["code"]: d for d in found}
    assert sorted(by_code) == ["E0201", "E0202"], found
    unknown = by_code["E0201"]
    assert unknown["range"] == {"start": {"line": 7, "character": 2}, "end": {"line": 7, "character": 5}}
    assert unknown["severity"] == 1 and unknown["source"] == "archdsl"
    assert "did you mean `bn`?" in unknown["message"]
    assert unknown["codeDescription"]["href"] == "https://example.org/errors.md#e0201-unknown-layer-type-or-block-type"
    twice = by_code["E0202"]
    assert twice["range"]["start"] == {"line": 8, "character": 2}
    related = twice["relatedInformation"]
    assert related[0]["location"]["uri"] == uri and related[0]["location"]["range"]["start"] == {"line": 6,
                                                                                               "character": 2}

    fixes = client.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": unknown["range"],
                                                       "context": {"diagnostics": [unknown]}})
    assert [f["title"] for f in fixes] == ["Change to `bn`"]
    assert fixes[0]["edit"]["changes"][uri] == [{"range": unknown["range"], "newText": "bn"}]

    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                             "contentChanges": [{"text": FIXED}]})
    assert client.diagnostics(uri, 2) == []

    hover = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": at(FIXED, "  c1", "conv")})
    text = hover["contents"]["value"]
    assert "**c1** · `conv`" in text and "`3x32x32` → `16x32x32`" in text and "params 432 " in text, text
    use = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": at(FIXED, "  b1", "conv_bn")})
    text = use["contents"]["value"]
    # conv 16->32 3x3 (4,608) + bn (64): the expansion's totals, at the use's module path
    assert "conv_bn (block)" in text and "`16x32x32` → `32x32x32` at `b1`" in text and "params 4,672" in text, text
    assert "3 nodes" in text

    definition = client.request("textDocument/definition", {"textDocument": {"uri": uri},
                                                            "position": at(FIXED, "  b1", "conv_bn")})
    assert definition["uri"] == (spec.parent / "tiny_blocks.arch").as_uri()
    assert definition["range"] == {"start": {"line": 1, "character": 6}, "end": {"line": 1, "character": 13}}
    option = client.request("textDocument/definition", {"textDocument": {"uri": uri},
                                                        "position": at(FIXED, "  b1", "kernel")})
    assert option["uri"].endswith("tiny_blocks.arch") and option["range"]["start"] == {"line": 1, "character": 18}
    source = client.request("textDocument/definition", {"textDocument": {"uri": uri},
                                                        "position": at(FIXED, "  c2", "b1")})
    assert source == {"uri": uri, "range": {"start": {"line": 9, "character": 2}, "end": {"line": 9, "character": 4}}}
    let = client.request("textDocument/definition", {"textDocument": {"uri": uri},
                                                     "position": at(FIXED, "  c2", "doubled")})
    assert let["range"]["start"] == {"line": 10, "character": 6}
    param = client.request("textDocument/definition", {"textDocument": {"uri": uri},
                                                       "position": at(FIXED, "  c1", "width")})
    assert param["range"]["start"] == {"line": 3, "character": 6}

    outline = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    assert [s["name"] for s in outline] == ["tiny", "stem", "head"]
    assert [s["name"] for s in outline[1]["children"]] == ["c1", "r1", "b1", "c2"]

    items = client.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                       "position": at(FIXED, "  c2", "b1")})
    labels = {i["label"] for i in (items["items"] if isinstance(items, dict) else items)}
    assert {"c1", "r1", "b1", "input"} <= labels and "doubled" not in labels

    # a problem inside the library's block body shows at the use that made it, the body's line related
    inside = FIXED.replace("b1 conv_bn 32 kernel=3", "b1 conv_bn 32 kernel=0")
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3},
                                             "contentChanges": [{"text": inside}]})
    (body,) = client.diagnostics(uri, 3)
    assert body["code"] == "E0209" and body["range"]["start"] == {"line": 9, "character": 2}
    library = body["relatedInformation"][0]["location"]
    assert library["uri"] == (spec.parent / "tiny_blocks.arch").as_uri()
    assert library["range"]["start"] == {"line": 2, "character": 11}  # `kernel` in `conv out kernel ...`
    assert body["relatedInformation"][1]["message"] == "in `b1`, made by this use of `conv_bn`"

    # the library fixed on disk and saved in the editor: the spec that uses it is checked again
    library_uri = (spec.parent / "tiny_blocks.arch").as_uri()
    fixed_library = LIBRARY.replace("conv out kernel pad=kernel // 2", "conv out max(kernel, 1) pad=kernel // 2")
    client.notify("textDocument/didOpen", {"textDocument": {"uri": library_uri, "languageId": "arch", "version": 1,
                                                            "text": fixed_library}})
    assert client.diagnostics(library_uri, 1) == []
    (spec.parent / "tiny_blocks.arch").write_text(fixed_library)
    client.notify("textDocument/didSave", {"textDocument": {"uri": library_uri}})
    assert client.diagnostics(uri, 3) == []

    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert client.diagnostics(uri) == []
    assert client.close() == 0


def test_every_bundled_spec_analyses_clean_and_quickly():
    """Every bundled spec checks clean through the server's analysis, and each statement walked is
    mapped to the nodes it made. The time is recorded, not asserted (docs/editors.md gives the figure)."""
    slowest = 0.0
    for path in bundled_specs():
        start = time.perf_counter()
        analysis = analyse_text(str(path), path.read_text())
        slowest = max(slowest, time.perf_counter() - start)
        assert analysis.graph is not None and not [d for d in analysis.diagnostics if d.is_error], path
        top = {id(stmt) for stmt in analysis.tree.statements}
        covered = {i for stmt, a, b in analysis.made if id(stmt) in top for i in range(a, b)}
        ops = [analysis.graph[i].op for i in range(len(analysis.graph)) if i not in covered]
        assert ops == ["input", "output"], (path, ops)  # every other node has its statement
    assert slowest < 5.0  # a hang or a quadratic walk, not a timing budget


def test_a_stage_row_hover_counts_its_units_and_costs():
    from archdsl.lsp.hover import hover_text

    path = SPECS / "resnet50.arch"
    analysis = analyse_text(str(path), path.read_text())
    line = next(i for i, s in enumerate(path.read_text().split("\n"), 1) if s.strip().startswith("layer3"))
    chain = path_at(analysis.tree.statements, line, 5)
    text = hover_text(analysis, chain, {})
    # torchvision's resnet50.layer3: six bottlenecks, 7,098,368 parameters
    assert "**layer3** · `bottleneck` row" in text
    assert "`512x28x28` → `1024x14x14` at `layer3` · 6 units" in text and "params 7,098,368" in text, text


def test_definition_of_a_bundled_library_block():
    path = SPECS / "efficientnet.arch"
    analysis = analyse_text(str(path), path.read_text())
    line = next(i for i, s in enumerate(path.read_text().split("\n"), 1) if "1 mbconv" in s)
    col = analysis.source.line(line).index("mbconv") + 2
    chain = path_at(analysis.tree.statements, line, col)
    blocks = Libraries().blocks(analysis.tree.statements, path.parent)
    word = word_at(chain[-1], line, col, blocks)
    assert word.name == "mbconv" and word.role == "type"
    block = blocks["mbconv"]
    assert block.span.file.endswith("torchvision_blocks.arch") and block.args[0].name == "mbconv"
    # inside the library: `expanded` is the `let` above its use, `eps` the block's parameter
    lib = analyse_text(block.span.file, (SPECS / "torchvision_blocks.arch").read_text())
    use = next(s for s in lib.tree.statements if s.word == "block" and s.args[0].name == "mbconv")
    line = next(n for n in range(use.span.line, use.span.line + 9)
                if lib.source.line(n).strip().startswith("conv_bn_act expanded kernel=1"))  # under `if`
    text = lib.source.line(line)
    chain = path_at(lib.tree.statements, line, text.index("expanded") + 2)
    word = word_at(chain[-1], line, text.index("expanded") + 2, blocks)
    found = definition_of(word, chain, lib.tree.statements, (*words(), *blocks))
    assert lib.source.line(found.line)[found.col - 1:found.end_col - 1] == "expanded" and found.line == use.span.line + 1
    col = text.index("eps=eps") + 6
    found = definition_of(word_at(chain[-1], line, col, blocks), chain, lib.tree.statements, (*words(), *blocks))
    assert found.line == use.span.line and lib.source.line(found.line)[found.col - 1:].startswith("eps=")


def test_positions_count_utf16_units():
    line = "conv 8 3x3  # 𝔵 wide"
    assert client_column(line, line.index("w") + 1) == line.index("w") + 1  # the astral char counts 2
    assert char_column(line, client_column(line, 18)) == 18
    assert client_column("é", 2, "utf-8") == 2 and client_column("é", 2, "utf-32") == 1


def test_without_pygls_the_command_says_what_to_install(monkeypatch, capsys):
    import sys

    from archdsl.cli import main

    monkeypatch.delitem(sys.modules, "archdsl.lsp.server", raising=False)
    monkeypatch.setitem(sys.modules, "pygls", None)
    monkeypatch.setitem(sys.modules, "pygls.lsp.server", None)
    assert main(["lsp"]) == 1
    err = capsys.readouterr().err
    assert "error[E0008]: the language server needs pygls" in err and "pip install 'archdsl[lsp]'" in err


def _fixes(text: str):
    from lsprotocol import types as L

    from archdsl.lsp.assist import code_actions
    from archdsl.lsp.document import span_range

    analysis = analyse_text("/nowhere/fix.arch", text)
    found = []
    for d in analysis.diagnostics:
        r = span_range(d.span)
        found.append(L.Diagnostic(range=L.Range(L.Position(**r["start"]), L.Position(**r["end"])), message=d.message,
                                  code=d.code, data={"help": d.help}))
    return code_actions("file:///nowhere/fix.arch", analysis, found, "utf-16")


def test_quick_fixes_replace_a_misspelt_word_and_offer_the_nearest_widths():
    fixes = _fixes("network n\ninput 3x32x32\nconv 64 3x3\nconv 63 3x3 groups=2\nmaxpool 2x2 ceil=ture\n")
    edits = {f.title: f.edit.changes["file:///nowhere/fix.arch"][0] for f in fixes}
    assert set(edits) == {"Change 63 to 62", "Change 63 to 64", "Change to `true`"}
    width = edits["Change 63 to 62"]
    assert (width.range.start.line, width.range.start.character, width.range.end.character, width.new_text) == \
        (3, 5, 7, "62")
    word = edits["Change to `true`"]
    assert (word.range.start.line, word.range.start.character, word.range.end.character) == (4, 17, 21)


def test_a_width_written_as_a_name_gets_no_number_to_replace():
    fixes = _fixes("network n\nparam w = 63\ninput 3x32x32\nconv 64 3x3\nconv w 3x3 groups=2\n")
    assert fixes == []


def test_completion_offers_types_at_a_line_start_and_an_options_words(tmp_path):
    from archdsl.lsp.assist import completions

    text = "network n\ninput 3x32x32\nstem\n  c1 conv 8 3x3\n  r1 hardswish\n  b \n  x gelu approximate=\n"
    analysis = analyse_text("/nowhere/c.arch", text)
    labels = lambda line, col: {i.label for i in completions(analysis, line, col, {})}  # noqa: E731
    start = labels(6, 4)  # `  b` being typed
    assert {"conv", "bottleneck", "global_avgpool", "stages", "scope", "let"} <= start
    assert "c1" not in start
    after_type = labels(4, len("  c1 conv 8 3x3 ") + 1)
    assert {"stride=", "groups=", "pad=", "input"} <= after_type and not {"c1", "r1"} & after_type
    assert labels(7, len("  x gelu approximate=") + 1) == {"none", "tanh"}
    staged = analyse_text("/nowhere/s.arch", "network n\ninput 3x32x32\nstages \n")
    mine = tmp_path / "mine.arch"
    (tmp_path / "my_blocks.arch").write_text(LIBRARY)
    using = analyse_text(str(mine), "network n\nuse \n")
    libraries = {i.label for i in completions(using, 2, 5, {})}
    assert {"my_blocks", "torchvision_blocks"} <= libraries and not {"resnet50", "mine"} & libraries
    from archdsl.semantics import prelude
    from archdsl.semantics.blocks import registry

    assert {i.label for i in completions(staged, 3, 8, {"mine": None})} == {*registry(), *prelude.block_types(),
                                                                          "mine"} >= {"bottleneck", "res2"}


def test_the_outline_has_stages_blocks_and_scopes():
    from archdsl.lsp.assist import symbols
    from archdsl.lsp.document import span_range

    path = SPECS / "efficientnet.arch"
    analysis = analyse_text(str(path), path.read_text())
    outline = symbols(analysis.tree.statements, span_range)
    names = [s.name for s in outline]
    assert names == ["efficientnet", "scope features", "head"]
    features = outline[1].children
    assert "stages" in [c.name for c in features]
    rows = next(c for c in features if c.name == "stages").children
    assert [r.name for r in rows] == [f"{n} mbconv" for n in range(1, 8)]
    library = analyse_text(str(SPECS / "torchvision_blocks.arch"), (SPECS / "torchvision_blocks.arch").read_text())
    blocks = [s.name for s in symbols(library.tree.statements, span_range)]
    assert {"conv_bn_act", "squeeze_excite", "mbconv"} <= set(blocks)


def test_a_bundled_library_is_found_from_a_spec_anywhere(tmp_path):
    """`use torchvision_blocks` in a spec outside specs/: its blocks are still found, in the bundled file."""
    from archdsl.syntax.parser import parse
    from archdsl.api import text_source

    tree, _ = parse(text_source(str(tmp_path / "mine.arch"), "use torchvision_blocks\nblock mine out\n  conv out 1x1\n"))
    blocks = Libraries().blocks(tree.statements, tmp_path)
    assert blocks["mine"].span.file == str(tmp_path / "mine.arch")
    assert blocks["mbconv"].span.file == str(SPECS / "torchvision_blocks.arch")


@pytest.mark.parametrize("name", ["resnet50d", "efficientnet", "torchvision_blocks", "broken"])
def test_every_position_of_a_spec_is_answered_without_an_exception(name):
    """Hover, definition and completion at every character of a spec (one that checks, one using a
    library, a library, one with errors), and one past each line's end, all in process."""
    from archdsl.lsp.assist import completions
    from archdsl.lsp.hover import hover_text
    from archdsl.lsp.server import find_definition

    path = SPECS / f"{name}.arch"
    text = BROKEN + "  conv 8 3x3 bias=\n  [\n" if name == "broken" else path.read_text()
    analysis = analyse_text(str(path), text)
    blocks = Libraries().blocks(analysis.tree.statements if analysis.tree else (), SPECS)
    answered = 0
    for line, content in enumerate(text.split("\n"), 1):
        for col in range(1, len(content) + 3):
            chain = path_at(analysis.tree.statements, line, col) if analysis.tree else []
            answered += bool(chain and hover_text(analysis, chain, blocks))
            if analysis.tree:
                find_definition(analysis, line, col, blocks)
            completions(analysis, line, col, blocks)
    assert answered > 0 or name in ("torchvision_blocks", "broken")
    assert analysis.tree is not None  # with syntax errors, the other lines still make a tree


def test_a_line_being_typed_leaves_the_rest_navigable():
    from archdsl.lsp.assist import completions

    text = FIXED.replace("  c2 conv doubled 1x1 from b1\n", "  c2 conv doubled 1x1 pad=\n  c3 conv 8 3x3 from \n")
    analysis = analyse_text("/nowhere/typing.arch", text)
    assert analysis.graph is None and {d.code for d in analysis.diagnostics} == {"E0102"}
    line = text.split("\n").index("  c3 conv 8 3x3 from ") + 1
    labels = {i.label for i in completions(analysis, line, len("  c3 conv 8 3x3 from ") + 1, {})}
    assert {"c1", "r1", "b1", "input"} <= labels


def test_definition_of_a_prelude_block_type_opens_the_prelude():
    from archdsl.lsp.server import find_definition
    from archdsl.semantics import prelude

    path = SPECS / "resnet50.arch"
    text = path.read_text()
    analysis = analyse_text(str(path), text)
    line = next(i for i, s in enumerate(text.split("\n"), 1) if s.startswith("stages bottleneck"))
    found = find_definition(analysis, line, len("stages bott"), {})
    assert found.file == str(prelude.PATH)
    assert prelude.PATH.read_text().split("\n")[found.line - 1].startswith("block bottleneck [[")
