"""What the command line and its commands share: exit statuses, the arguments every command
that reads a spec takes, loading a spec and reporting its diagnostics.

archdsl.cli and the modules in archdsl.commands both import this; it imports neither.
"""

from __future__ import annotations

import argparse
import os
import sys

from archdsl.diagnostics import (MAX_REPORTED, Diagnostic, Severity, error, escape_text, render_all,
                                 to_json_lines)
from archdsl.limits import (DEFAULT_MAX_ACTIVATION_BYTES, DEFAULT_MAX_NODES, DEFAULT_MAX_PARAMS, Limits, parse_bytes,
                            parse_count, show_bytes)

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
#: the SPEC argument that reads the spec from standard input, and the name it is reported under
STDIN, STDIN_NAME = "-", "<stdin>"


def parse_define(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key.strip(), value.strip()


class Defines(argparse.Action):
    """`-D NAME=VALUE`, collected by name; a name given twice is a usage error naming both values."""

    def __call__(self, parser, namespace, define, option_string=None):
        name, value = define
        given = dict(getattr(namespace, self.dest) or {})
        if name in given:
            raise argparse.ArgumentError(self, f"{name} is given twice ({name}={given[name]} and {name}={value}); "
                                               "give each parameter once")
        given[name] = value
        setattr(namespace, self.dest, given)


def parse_size(text: str) -> tuple[int, ...]:
    """`--input`: CxHxW, HxW or a single size (a square); the sizes are checked against the spec."""
    from archdsl.semantics import input_sizes

    sizes = input_sizes(text)
    if sizes is None:
        raise argparse.ArgumentTypeError(f"expected CxHxW, HxW or a single size, got {text!r}")
    return sizes


def add_spec_arguments(parser: argparse.ArgumentParser, many: bool = False) -> None:
    """The arguments every command that reads a spec takes. With `many`, SPEC may be given
    several times and name folders (archdsl.commands.many); `args.spec` is then a list."""
    if many:
        parser.add_argument("spec", nargs="+", metavar="SPEC",
                            help="path of a .arch file, a bundled network's name (archdsl list), or - to read "
                                 "the spec from standard input; several, or a folder (its .arch files, "
                                 "recursively), for one result per file")
    else:
        parser.add_argument("spec", help="path of a .arch file, a bundled network's name (archdsl list), "
                                         "or - to read the spec from standard input")
    parser.add_argument("-D", dest="defines", action=Defines, type=parse_define, default={},
                        metavar="NAME=VALUE", help="set a spec parameter, e.g. -D num_classes=5 (once each)")
    parser.add_argument("--input", type=parse_size, metavar="CxHxW", help="input size to check against")
    parser.add_argument("--format", choices=("text", "json"), default="text", 
                        help="text or json, for the diagnostics (and for summary, its table)")
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour the diagnostics (auto: when stderr is a terminal and NO_COLOR is unset)")
    parser.add_argument("--max-params", type=_limit(parse_count), metavar="N",
                        help=f"reject a network with more trainable parameters (default {DEFAULT_MAX_PARAMS:,}; "
                             "25e6, 2_000_000 and 1.5G are accepted)")
    parser.add_argument("--max-activations", type=_limit(parse_bytes), metavar="SIZE",
                        help="reject a network needing more fp32 activation memory for one image "
                             f"(default {show_bytes(DEFAULT_MAX_ACTIVATION_BYTES)}; e.g. 32GiB, 500MB)")
    parser.add_argument("--max-nodes", type=_limit(parse_count), metavar="N",
                        help=f"reject a network of more IR nodes (default {DEFAULT_MAX_NODES:,})")


def add_depth_argument(parser: argparse.ArgumentParser, default_is: str) -> None:
    """`--depth`, the same in `summary` and `render`: stage, block or layer, or N module path levels."""
    parser.add_argument("--depth", type=depth, metavar="DEPTH",
                        help="stage (one row or box per stage), block (per block), layer (per layer), or a "
                             f"number N: module paths down to N levels, deeper groups folded (default: {default_is})")


def depth(text: str) -> str | int:
    """A `--depth` (argparse type): one of stage, block and layer, or a whole number from 1 up."""
    from archdsl.backends.summary.structure import DEPTHS

    if text in DEPTHS:
        return text
    if not text.isdecimal() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected stage, block, layer or a whole number from 1 up, got {text!r}")
    return int(text)


def _limit(parse):
    """An argparse type from a limits parser: its ValueError becomes a usage error (exit 2)."""
    def convert(text: str) -> int:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return convert


def limits_of(args) -> Limits:
    """The budget the command line asks for: the defaults, with any --max-* given."""
    given = {"params": args.max_params, "activation_bytes": args.max_activations, "nodes": args.max_nodes}
    return Limits(**{k: v for k, v in given.items() if v is not None})


def report(diagnostics: list[Diagnostic], args, limit: int = MAX_REPORTED) -> bool:
    """Print diagnostics to stderr (in text, the first `limit` and a count of the rest); True if
    they stop the command."""
    if args.format == "json":
        if diagnostics:
            print(to_json_lines(diagnostics), file=sys.stderr)
    elif diagnostics:
        print(render_all(diagnostics, limit=limit, color=use_color(args.color)), file=sys.stderr)
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    failed = errors > 0 or (args.strict and warnings > 0)
    if failed and args.format == "text":
        name = STDIN_NAME if args.spec == STDIN else escape_text(args.spec) or "(empty path)"
        print(f"\n{name}: {_count(errors, 'error')}, {_count(warnings, 'warning')}", file=sys.stderr)
    return failed


def use_color(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return sys.stderr.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def load_for(args, library: bool = False):
    """Analyse the spec named on the command line (`-`: standard input); the graph or None after
    reporting. With `library`, a block library is checked as one and returned as a BlockLibrary."""
    from archdsl.api import analyse

    spec, diagnostics = (read_stdin() if args.spec == STDIN else (args.spec, []))
    graph = None
    if spec is not None:
        graph, diagnostics = analyse(spec, dict(args.defines), args.input, limits_of(args), library=library)
    failed = report(diagnostics, args)
    return None if failed else graph


def read_stdin():
    """The spec piped to standard input, as a Source named `<stdin>` (its `use` lines read libraries
    from the current folder), or None and the diagnostic that says why it cannot be read."""
    from archdsl.sources import read_stream

    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        return None, [error("E0001", "`-` reads the spec from standard input, which is closed", None, "",
                            "pipe the spec in, e.g. `archdsl compile - --check < net.arch`")]
    try:
        return read_stream(STDIN_NAME, stream)
    except OSError as exc:
        return None, [error("E0001", f"cannot read standard input: {exc.strerror or exc}", None, "",
                            "pipe the spec in, e.g. `archdsl compile - --check < net.arch`")]
