"""Semantics: a parsed spec plus parameter values -> a verified, typed IR graph."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import partial
from pathlib import Path

from archdsl.diagnostics import Diagnostic, Label, Span, did_you_mean, error, escape_text, suggestion_budget, warning
from archdsl.ir import nodes as N
from archdsl.ir.graph import Graph
from archdsl.ir.nodes import TensorType
from archdsl.ir.verify import verify
from archdsl.limits import Limits
from archdsl.semantics.budget import Budget, OverBudget
from archdsl.semantics import prelude
from archdsl.semantics.blocks import registry
from archdsl.semantics.builder import HEADER_WORDS, STRUCTURE, Builder, Scope, make_input
from archdsl.semantics.control import CONTROL
from archdsl.semantics.userblocks import (BlockLibrary, Library, is_library, spec_folder, unused_blocks,
                                         unused_parameters)
from archdsl.semantics.emit import shown_name
from archdsl.semantics.ops import OPS
from archdsl.semantics.outputs import build_outputs
from archdsl.semantics.values import (Evaluator, Invalid, invalid, is_whole, names_in, override, param_kind,
                                      show)
from archdsl.syntax import tree as T

MAX_INPUT_SIZE = 65536
#: a name that reads a value: not an option's own name (`pad` in `pad=1`)
VALUE_NAME = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b(?!\s*=)")
#: the arguments of archdsl.build (and load, check) besides the spec's parameters: a parameter
#: so named could never be set through build(), whose own argument takes the value (E0214)
RESERVED_PARAMS = ("spec", "input_size", "limits", "compile", "init", "dtype", "channels_last", "device",
                   "weights", "features_only", "out_indices")


class Header:
    """What the top-level `network`, `input`, `param` and `default` statements declare."""

    def __init__(self, overrides: dict[str, object]):
        self.overrides = overrides  # the values set from outside the spec (-D, keyword arguments)
        self.name: str | None = None
        self.input: TensorType | None = None
        self.input_span: Span | None = None
        self.params: dict[str, object] = {}
        self.param_spans: dict[str, Span] = {}
        self.defaults: dict[str, dict[str, T.Option]] = {}
        self.outside: dict[str, str] = {}  # parameter -> how its value came from outside the spec


@suggestion_budget()  # a spec full of unknown names stays linear to check
def elaborate(spec: T.Spec, overrides: dict[str, object] | None = None, input_size=None,
              limits: Limits | None = None, *, library: bool = False
              ) -> tuple[Graph | BlockLibrary | None, list[Diagnostic]]:
    """Build the IR of `spec`, with parameter `overrides` (each of its default's kind; `-D` text
    is read as the spec would read it) and an optional input size (see input_sizes), within
    `limits` (archdsl.limits' defaults when None): a network over them is an error.

    With `library`, a file of only `block` and `use` lines is checked as a block library (see
    check_library) instead of being refused as a spec without an input (E0212)."""
    diagnostics: list[Diagnostic] = []
    header = read_header(spec, overrides or {}, diagnostics)
    diagnostics += unknown_overrides(header)
    apply_input_size(header, input_size, diagnostics)
    if header.input is None and library and is_library(spec.statements):
        return check_library(spec, header, diagnostics)
    if header.input is None:
        declared = any(stmt.word == "input" for stmt in spec.statements)  # but malformed: reported already
        if not declared and not any(d.code == "E0212" for d in diagnostics):
            diagnostics.append(_no_input(spec))
        return None, diagnostics
    name = header.name or _stem(spec.source.name)
    graph = Graph(name=name, input_type=header.input, params=dict(header.params), source=spec.source,
                  overrides={key: header.params[key] for key in header.overrides if key in header.params})
    budget = Budget(limits or Limits())
    try:
        block_warnings = _build(spec, header, graph, budget, diagnostics)
    except OverBudget as stop:  # the network cannot fit: no point building the rest
        return None, blame_outside(merge_repeats(diagnostics + stop.diagnostics), header)
    diagnostics += budget.final()
    if not any(d.is_error for d in diagnostics):  # after an error, unused values are mostly its echo
        diagnostics += unused_values(graph) + block_warnings + single_value_norms(graph) + fixed_size_upsamples(graph)
    diagnostics = blame_outside(merge_repeats(diagnostics), header)
    if any(d.is_error for d in diagnostics):
        return None, diagnostics
    verify(graph)
    graph.parameter_total = budget.params
    return graph, diagnostics


def _build(spec: T.Spec, header: Header, graph: Graph, budget: Budget, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Walk the statements from the input to the output node; returns the warnings about block
    definitions (unused ones and unused parameters), which wait until the spec has no errors."""
    evaluator = Evaluator(header.params)
    library = new_library(evaluator, diagnostics)
    library.collect(spec.statements, spec_folder(spec.source), True)
    for name, block in prelude.blocks(prelude.used_by(spec.statements, library.blocks, header.params)).items():
        library.blocks.setdefault(name, block)  # not over a definition refused for taking its name
    builder = Builder(graph, evaluator, header.defaults, diagnostics, budget, library.blocks)
    try:
        builder.library_failed = library.failed
        x = make_input(graph, builder.em, header.input_span)
        build_outputs(builder, spec.statements, Scope("", x), x, header.input_span)
        return unused_blocks(library.blocks) + [w for b in library.blocks.values() if b.used and not b.bundled
                                                for w in unused_parameters(b)]
    finally:
        # the builder answers the evaluator's `x.channels` (evaluator -> builder -> evaluator): cut
        # the loop, so that what the walk made is freed when the check is done, not when Python's
        # cycle collector next runs (archdsl.cli pauses it)
        evaluator.properties = None


def new_library(evaluator: Evaluator, diagnostics: list[Diagnostic], prelude_itself: bool = False) -> Library:
    """A reader of block definitions, which may not take the name of a layer type, a word of the
    language or (but in the prelude itself) a block of the prelude."""
    taken = dict.fromkeys((*OPS, *registry(), *STRUCTURE, *HEADER_WORDS, *CONTROL, "split"), "")
    if not prelude_itself:
        taken.update((name, f"`{name}` is a block of the bundled prelude (archdsl/prelude.arch)")
                     for name in prelude.names())
    return Library(evaluator, taken, diagnostics)


def check_library(spec: T.Spec, header: Header, diagnostics: list[Diagnostic]
                  ) -> tuple[BlockLibrary | None, list[Diagnostic]]:
    """A block library read as a spec that uses it reads it (Library.collect: each definition's
    parameters and defaults, names taken twice or reserved, the libraries it uses), and its blocks'
    parameters that their bodies never read (W0410). The bodies themselves are checked where a
    spec uses them, at the sizes it gives them. The library, or None where it has errors."""
    itself = spec.source.name == prelude.NAME or Path(spec.source.name).resolve() == prelude.PATH
    library = new_library(Evaluator(header.params), diagnostics, prelude_itself=itself)
    library.collect(spec.statements, spec_folder(spec.source), True)
    own = tuple(block for block in library.blocks.values() if block.local)
    diagnostics += [w for block in own for w in unused_parameters(block)]
    diagnostics = merge_repeats(diagnostics)
    if any(d.is_error for d in diagnostics):
        return None, diagnostics
    uses = tuple(stmt.args[0].name for stmt in spec.statements if stmt.word == "use")
    return BlockLibrary(_stem(spec.source.name), own, uses), diagnostics


def _stem(filename: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return escape_text(base.rsplit(".", 1)[0]) or "network"  # a file name may hold any byte but `/`


def _no_input(spec: T.Spec) -> Diagnostic:
    """E0212, at a top-level line that looks like a misspelt `input` (`Input 3x32x32`) if there is one;
    for a file of block definitions only, that it is a library, to `use` from a spec."""
    if is_library(spec.statements):
        library = _stem(spec.source.name)
        return error("E0212", "this file is a block library, not a network: it declares no input",
                     spec.statements[0].word_span, "only block definitions",
                     f"a spec beside it uses its blocks with `use {library}`; `archdsl compile "
                     f"{escape_text(spec.source.name)} --check` checks the library itself")
    near = next((stmt for stmt in spec.statements if stmt.word != "input"
                 and (stmt.word.lower() == "input" or did_you_mean(stmt.word, ("input",)))), None)
    if near is not None:
        line = f"`input {_size_text(near) or '3x224x224'}`"
        how = "write `input` in lower case:" if near.word.lower() == "input" else "did you mean `input`? write"
        return error("E0212", "the spec declares no input", near.word_span, "not `input`", f"{how} {line}")
    return error("E0212", "the spec declares no input", Span(spec.source, 1, 1, 1, 2),
                 "no `input` statement", "add a line like `input 3x224x224`")


def _size_text(stmt: T.Statement) -> str:
    return "x".join(map(str, stmt.args[0].values)) if stmt.args and isinstance(stmt.args[0], T.Dims) else ""


def read_header(spec: T.Spec, overrides: dict[str, object], diagnostics: list[Diagnostic]) -> Header:
    """The header statements, with each parameter given its override as it is declared (so
    a parameter computed from it follows it)."""
    header = Header(overrides)
    readers = {"network": _network, "input": _input, "param": partial(_params, diagnostics=diagnostics),
               "default": _default}
    for stmt in spec.statements:
        if stmt.word in readers:
            try:
                readers[stmt.word](stmt, header)
            except Invalid as exc:
                diagnostics.append(exc.diagnostic)
    diagnostics += _channels_last_input(header)
    return header


def _channels_last_input(header: Header) -> list[Diagnostic]:
    """W0402 for an input that reads as height x width x channels (`224x224x3`, Keras' order)."""
    t = header.input
    if t is None or t.width not in (1, 3, 4) or t.channels < 16 or t.channels < 4 * t.width:
        return []
    return [warning("W0402", f"the input has {t.channels} channels but is only {t.width} pixel{'s' if t.width > 1 else ''} wide",
                    header.input_span, "read as channels x height x width",
                    f"if this is height x width x channels, write `input {t.width}x{t.channels}x{t.height}`")]


def _network(stmt: T.Statement, header: Header) -> None:
    if len(stmt.args) != 1 or not isinstance(stmt.args[0], T.Name) or stmt.options:
        raise invalid("E0206", "`network` takes one name", stmt.span, "expected `network NAME`",
                      "write it like `network resnet50` (letters, digits and `_`)")
    header.name = stmt.args[0].name


def _input(stmt: T.Statement, header: Header) -> None:
    args = stmt.args
    if header.input is not None:
        raise invalid("E0202", "the input is declared twice", stmt.span, "second `input`",
                      "keep one `input` line; `--input` or build(input_size=...) changes its size",
                      (Label(header.input_span, "first declared here"),))
    if len(args) != 1 or not isinstance(args[0], T.Dims) or len(args[0].values) != 3 or stmt.options:
        raise invalid("E0206", "`input` takes one size, channels x height x width", stmt.span,
                      "expected `input CxHxW`", "write it like `input 3x224x224`")
    c, h, w = args[0].values
    if min(c, h, w) < 1 or max(h, w) > MAX_INPUT_SIZE:
        raise invalid("E0206", f"input sizes must be between 1 and {MAX_INPUT_SIZE}", args[0].span,
                      f"got {c}x{h}x{w}", "write it like `input 3x224x224`")
    header.input = TensorType(channels=c, height=h, width=w)
    header.input_span = stmt.span


def _params(stmt: T.Statement, header: Header, diagnostics: list[Diagnostic]) -> None:
    if stmt.args or not stmt.options:
        raise invalid("E0206", "`param` declares NAME = VALUE", stmt.span, "expected `param NAME = VALUE`",
                      "write it like `param num_classes = 1000`")
    for option in stmt.options:
        if option.name in header.params:
            raise invalid("E0202", f"parameter `{option.name}` is declared twice", option.span, "declared again",
                          f"keep one; change its value with `-D {option.name}=...` or build({option.name}=...)",
                          (Label(header.param_spans[option.name], "first declared here"),))
        if option.name in OPS:
            raise invalid("E0206", f"`{option.name}` is a layer type and cannot name a parameter",
                          option.name_span, "reserved word", f"choose another name, like `{option.name}_size`")
        if option.name in RESERVED_PARAMS:  # reported, and declared all the same: its uses are not unknown
            diagnostics.append(error(
                "E0214", f"`{option.name}` is an argument of archdsl.build and cannot name a parameter",
                option.name_span, "reserved by archdsl",
                f"build({option.name}=...) would set archdsl's own argument, never this parameter; "
                f"choose another name, like `{option.name}_value`"))
        value = Evaluator(header.params).word(option.value)
        given = (_overridden(option, value, header.overrides[option.name], diagnostics)
                 if option.name in header.overrides else None)
        value = value if given is None else given
        _note_outside(option, value, header, given is not None)
        header.params[option.name] = value
        header.param_spans[option.name] = option.span


def _note_outside(option: T.Option, value, header: Header, given: bool) -> None:
    """Remember a parameter whose value is not the spec's own: `given` from outside, or computed
    from one that is."""
    name = option.name
    if given:
        header.outside[name] = f"`{name}` is {show(value)}: set from outside the spec (-D or a keyword argument)"
        return
    sources = sorted(names_in(option.value) & header.outside.keys())
    if sources:
        header.outside[name] = (f"`{name}` is {show(value)}: computed from "
                                f"{', '.join(f'`{source}`' for source in sources)}, set from outside the spec")


def blame_outside(diagnostics: list[Diagnostic], header: Header) -> list[Diagnostic]:
    """Add to each error whose marked text names a parameter set from outside the spec a note at
    that parameter's declaration, saying where its value came from: the line an error points
    at is then not the whole story."""
    if not header.outside:
        return diagnostics
    return [_with_outside_notes(d, header) if d.is_error and d.span is not None else d for d in diagnostics]


def _with_outside_notes(d: Diagnostic, header: Header) -> Diagnostic:
    notes = tuple(Label(header.param_spans[name], header.outside[name])
                  for name in dict.fromkeys(VALUE_NAME.findall(_marked_text(d.span))) if name in header.outside)
    return replace(d, notes=d.notes + notes) if notes else d


def _marked_text(span: Span) -> str:
    if span.source is None:
        return ""
    lines = [span.source.line(n) for n in range(span.line, span.end_line + 1)]
    if len(lines) == 1:
        return lines[0][span.col - 1:span.end_col - 1]
    return "\n".join([lines[0][span.col - 1:], *lines[1:-1], lines[-1][:span.end_col - 1]])


def _overridden(option: T.Option, default, value, diagnostics: list[Diagnostic]):
    """The value set from outside for the parameter `option` declares, if it is of the default's
    kind; otherwise E0208, and None (the default stands)."""
    accepted = override(value, default)
    if accepted is None:
        kind, name = param_kind(default), option.name
        fix = ("a list parameter is changed in the spec itself" if kind == "a list"
               else f"pass {kind}, like `{name}={show(default)}`")
        diagnostics.append(error("E0208", f"parameter `{name}` takes {kind}, not {value!r}", option.span,
                                 "declared here", fix))
    return accepted


def _default(stmt: T.Statement, header: Header) -> None:
    op = stmt.args[0] if len(stmt.args) == 1 and isinstance(stmt.args[0], T.Name) else None
    if op is None or op.name not in OPS or not stmt.options:
        hint = did_you_mean(op.name, OPS) if op else ""
        raise invalid("E0206", "`default` sets options for a layer type", stmt.span,
                      "expected `default LAYER option=value`", hint or "write it like `default conv bias=true`")
    for option in stmt.options:
        if option.name not in OPS[op.name].options:
            hint = did_you_mean(option.name, OPS[op.name].options) or f"{op.name} takes: " + ", ".join(
                OPS[op.name].options)
            raise invalid("E0203", f"{op.name} has no option `{option.name}`", option.name_span, "unknown option",
                          hint)
        header.defaults.setdefault(op.name, {})[option.name] = option


def unknown_overrides(header: Header) -> list[Diagnostic]:
    """E0208 for each value set from outside the spec that names no parameter of it."""
    found = []
    for key in header.overrides:
        if key in header.params:
            continue
        hint = did_you_mean(key, header.params) or (
            f"`{key}` is an argument of archdsl.build; load and check do not take it" if key in RESERVED_PARAMS
            else "this spec's parameters: " + ", ".join(header.params) if header.params else "this spec has none")
        found.append(error("E0208", f"unknown parameter `{key}`", None, "", hint))
    return found


INPUT_SIZE_HELP = "pass a size like `--input 3x160x160` or `--input 160x160` (input_size=(160, 160) in Python)"


def input_sizes(size) -> tuple[int, ...] | None:
    """An input size as `--input` or `input_size=` gives it, as (height, width) or (channels,
    height, width): a whole number is a square, a tuple or list holds two or three whole
    numbers, and text is read as `--input` writes it (`160`, `160x160`, `3x160x160`).
    None if `size` is none of these; the sizes themselves are checked by apply_input_size."""
    if isinstance(size, str):
        parts = size.strip().lower().split("x")
        if not all(part.isascii() and part.isdigit() and len(part) <= 9 for part in parts) or len(parts) > 3:
            return None
        size = tuple(int(part) for part in parts)
        size = size * 2 if len(size) == 1 else size
    elif is_whole(size):
        size = (size, size)
    if not isinstance(size, (tuple, list)) or len(size) not in (2, 3) or not all(map(is_whole, size)):
        return None
    return tuple(int(side) for side in size)


def apply_input_size(header: Header, size, diagnostics: list[Diagnostic]) -> None:
    """Give the input the height and width of `size` (see input_sizes); E0208 for anything that
    is not an input size, changes the declared channels, or is out of range."""
    if size is None:
        return
    sizes = input_sizes(size)
    if sizes is None:
        diagnostics.append(error("E0208", f"an input size is height x width or channels x height x width, "
                                          f"not {size!r}", None, "", INPUT_SIZE_HELP))
        return
    if header.input is None:
        return
    problem = _misread_size(sizes, header.input.channels)
    if problem is not None:
        diagnostics.append(error("E0208", problem[0], header.input_span, "declared here", problem[1]))
        return
    h, w = sizes[-2:]
    if not (1 <= h <= MAX_INPUT_SIZE and 1 <= w <= MAX_INPUT_SIZE):
        diagnostics.append(error("E0208", f"input sizes must be between 1 and {MAX_INPUT_SIZE}, not {h}x{w}",
                                 None, "", INPUT_SIZE_HELP))
        return
    header.input = TensorType(channels=header.input.channels, height=h, width=w)


def _misread_size(sizes: tuple[int, ...], channels: int) -> tuple[str, str] | None:
    """What is wrong with an input size that changes the declared channels (`4x64x64`), puts them
    last (`224x224x3`) or leaves out a side (`3x224`, height 3): its message and help; else None."""
    shown = "x".join(map(str, sizes))
    if len(sizes) == 3 and sizes[0] != channels:
        help = "only height and width can be changed"
        if sizes[2] == channels:
            help = f"sizes are channels x height x width: did you mean `{channels}x{sizes[0]}x{sizes[1]}`?"
        return f"the spec takes {channels}-channel input, not {sizes[0]}", help
    if len(sizes) == 2 and sizes[0] == channels < sizes[1]:
        return (f"`{shown}` reads as height {sizes[0]} and width {sizes[1]}: a side is missing",
                f"give channels x height x width (`{shown}x{sizes[1]}`), height x width "
                f"(`{sizes[1]}x{sizes[1]}`) or one size for a square (`{sizes[1]}`)")
    return None


def merge_repeats(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic for a problem that every repeat of a stage row has, naming how many."""
    groups: dict[tuple, list[Diagnostic]] = {}
    for d in diagnostics:
        groups.setdefault((d.code, d.message, d.span, d.help), []).append(d)
    merged = []
    for same in groups.values():
        first = same[0]
        if len(same) > 1:
            # labels naming each block (`layer1.0.conv2`, `layer1.1.conv2`) differ; an option
            # shared by several rows gives the same label for each
            what = "block{} of this row" if len({d.label for d in same}) > 1 else "use{} of this line"
            more = f" (and {len(same) - 1} more {what.format('s' if len(same) > 2 else '')})"
            first = replace(first, label=first.label + more)
        merged.append(first)
    return merged


def single_value_norms(graph: Graph) -> list[Diagnostic]:
    """W0412 for a group norm whose groups hold one value each: torch refuses a batch of one
    image there, in training and evaluation alike. (A batch norm over a 1x1 map needs training
    batches of 2 just as torch's own models do after a global pool; the faithful specs that have
    one, like the Keras ResNet-18 at 32x32, are not warned about it.)"""
    found, seen = [], set()
    for node in graph.nodes():
        t = graph[node.inputs[0]].type if node.op == "groupnorm" and node.inputs else None
        if t is None or node.span in seen or not node.groups or t.numel != node.groups:
            continue
        seen.add(node.span)
        found.append(warning("W0412", f"`{shown_name(node)}` normalises groups of one value each",
                             node.span, f"{t} in {node.groups} groups",
                             "torch refuses a batch of one image here, in training and evaluation alike; "
                             "use fewer groups, or batches of 2 or more"))
    return found


def fixed_size_upsamples(graph: Graph) -> list[Diagnostic]:
    """W0420 for an upsample to a written-out size: its output has that size whatever the input's,
    so the network is right at its declared size only (a segmentation head's `size=520x520`)."""
    found, seen = [], set()
    source = graph.input_type
    for node in graph.nodes():
        if node.op != "upsample" or node.size is None or node.span in seen:
            continue
        seen.add(node.span)
        h, w = node.size
        same = (h, w) == (source.height, source.width)
        fix = "write `upsample to=input` to follow the input's size whatever it is" if same else \
            "write `upsample to=NAME` to take the size a value NAME has when the network runs (`to=input`: the input's)"
        found.append(warning("W0420", f"`{shown_name(node)}` upsamples to a written-out {h}x{w}, which ties the "
                             "network to one input size", node.span,
                             "the declared input's size" if same else f"{h}x{w} whatever the input", fix))
    return found


def unused_values(graph: Graph) -> list[Diagnostic]:
    """A warning for each value that is computed and then never used."""
    found, seen = [], set()
    for node in graph.nodes():
        if node.op in ("output", "input") or graph.has_users(node.id) or node.span in seen:
            continue
        seen.add(node.span)
        found.append(warning("W0401", f"`{shown_name(node)}` is computed but never used", node.span,
                             "this value goes nowhere",
                             "remove it, feed it on (`from NAME`), or return it (`output from NAME, ...`); "
                             "without `output` the network returns the last statement's value"))
    return found
