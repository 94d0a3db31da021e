"""The `archdsl` command line.

Exit status: 0 when the spec is fine, 1 when it has errors (or warnings with
--strict), 2 for bad usage. Diagnostics go to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from archdsl.diagnostics import Diagnostic, Severity, render_all, to_json_lines
from archdsl.limits import (DEFAULT_MAX_ACTIVATION_BYTES, DEFAULT_MAX_NODES, DEFAULT_MAX_PARAMS, Limits, parse_bytes,
                            parse_count, show_bytes)

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


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


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments every command that reads a spec takes."""
    parser.add_argument("spec", help="path of a .arch file, or a bundled network's name (archdsl list)")
    parser.add_argument("-D", dest="defines", action=Defines, type=parse_define, default={},
                        metavar="NAME=VALUE", help="set a spec parameter, e.g. -D num_classes=5 (once each)")
    parser.add_argument("--input", type=parse_size, metavar="CxHxW", help="input size to check against")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="diagnostics format")
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


def report(diagnostics: list[Diagnostic], args) -> bool:
    """Print diagnostics to stderr; True if they stop the command."""
    if args.format == "json":
        if diagnostics:
            print(to_json_lines(diagnostics), file=sys.stderr)
    elif diagnostics:
        print(render_all(diagnostics, color=use_color(args.color)), file=sys.stderr)
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    failed = errors > 0 or (args.strict and warnings > 0)
    if failed and args.format == "text":
        name = args.spec or "(empty path)"
        print(f"\n{name}: {_count(errors, 'error')}, {_count(warnings, 'warning')}", file=sys.stderr)
    return failed


def use_color(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return sys.stderr.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def load_for(args):
    """Analyse the spec named on the command line; the graph or None after reporting."""
    from archdsl.api import analyse

    graph, diagnostics = analyse(args.spec, dict(args.defines), args.input, limits_of(args))
    failed = report(diagnostics, args)
    return None if failed else graph


def verdict(graph, seconds: float) -> str:
    """The one-line size report, from the same totals as `archdsl summary`."""
    from compiler.summary.table import macs_text, totals

    t = totals(graph)
    return (f"ok: {graph.name}: {t.params:,} parameters, {macs_text(t.macs)} "
            f"at {graph.input_type} -> {graph.output_type} ({seconds:.2f}s)")


def cmd_compile(args) -> int:
    started = time.perf_counter()
    conflict = flag_conflict(args)
    if conflict:
        print(f"error: {conflict}", file=sys.stderr)
        return EXIT_USAGE
    graph = load_for(args)
    if graph is None:
        return EXIT_ERRORS
    if args.emit == "ir":
        from archdsl.ir.printer import dump

        print(dump(graph), end="")
        return EXIT_OK
    if not args.check:
        module = build_module(graph, args)
        if args.emit == "code":
            print(module.code.strip())
            return EXIT_OK
    print(verdict(graph, time.perf_counter() - started))
    if args.torch_compile:
        from compiler.torch.options import try_compile

        report = try_compile(module, _input_shape(graph), args.torch_compile)
        print(report)
        return EXIT_OK if report.ok else EXIT_ERRORS
    return EXIT_OK


def flag_conflict(args) -> str | None:
    """Why `compile`'s flags cannot go together, or None: a flag for the module built (--dtype,
    --channels-last, --torch-compile) with --check or --emit ir, which build none; --emit code
    with --check (no module to print) or with --torch-compile (which would run unreported)."""
    module_flags = [flag for flag, given in (("--dtype", args.dtype), ("--channels-last", args.channels_last),
                                             ("--torch-compile", args.torch_compile)) if given]
    if args.check and args.emit == "code":
        return "--check builds no module; --emit code prints the one built (drop --check)"
    if not module_flags:
        return None
    flags = _joined(module_flags)
    need = f"{flags} need{'s' if len(module_flags) == 1 else ''} one"
    if args.check:
        return f"--check builds no module; {need} (drop --check)"
    if args.emit == "ir":
        return f"--emit ir builds no module; {need} (drop --emit ir, or {flags})"
    if args.emit == "code" and args.torch_compile:
        return "--emit code prints the module and stops; --torch-compile runs it (use one or the other)"
    return None


def _joined(words: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def build_module(graph, args):
    """The lowered module, in the dtype and layout asked for, on the GPU if there is one."""
    import torch

    from archdsl.api import build

    device = "cuda" if args.torch_compile and torch.cuda.is_available() else None
    return build(graph, init=False, dtype=args.dtype, channels_last=args.channels_last, device=device,
                 limits=limits_of(args))


def _input_shape(graph) -> tuple[int, int, int]:
    t = graph.input_type
    return t.channels, t.height, t.width


def build_parser() -> argparse.ArgumentParser:
    from archdsl.api import COMPILE_MODES, DTYPE_NAMES

    from archdsl import __version__

    parser = argparse.ArgumentParser(prog="archdsl", description="Compile .arch network specs.")
    parser.add_argument("--version", action="version", version=f"archdsl {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = commands.add_parser("compile", help="check a spec and lower it to a torch module")
    add_spec_arguments(p)
    p.add_argument("--check", action="store_true", help="only check: no torch import, no module built")
    p.add_argument("--emit", choices=("ir", "code"), help="print the IR, or the generated torch code")
    p.add_argument("--dtype", choices=DTYPE_NAMES, help="build the module in this dtype (parameters and input)")
    p.add_argument("--channels-last", action="store_true", help="conv weights and the input in the NHWC layout")
    p.add_argument("--torch-compile", nargs="?", const="default", choices=COMPILE_MODES, metavar="MODE",
                   help="compile the module with torch.compile now (on the GPU if there is one), run it once and "
                        f"compare with eager; exit 1 on a graph break or a mismatch. MODE: {', '.join(COMPILE_MODES)}")
    p.set_defaults(run=cmd_compile)
    for register in _command_modules():
        register(commands)
    return parser


def _command_modules():
    """Commands that live in their own modules register themselves here."""
    from archdsl.commands import explain, export, render, summary, weights, zoo

    return [summary.register, render.register, explain.register, zoo.register, weights.register, export.register]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            return internal_error(exc)
        from archdsl.api import NO_TORCH

        print(f"error: {NO_TORCH}", file=sys.stderr)
        return EXIT_ERRORS
    except Exception as exc:
        return internal_error(exc)


def internal_error(exc: Exception) -> int:
    """A bug in archdsl: one line, not a traceback."""
    print(f"error[E9999]: internal error in archdsl: {type(exc).__name__}: {exc}\n"
          f"  = help: this is a bug in archdsl, not in your spec; please report it", file=sys.stderr)
    return EXIT_ERRORS


if __name__ == "__main__":
    sys.exit(main())
