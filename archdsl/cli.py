"""The `archdsl` command line.

Exit status: 0 when the spec is fine, 1 when it has errors (or warnings with
--strict), 2 for bad usage, 130 when interrupted. Diagnostics go to stderr, results to stdout.
Nothing heavy is imported before main() runs, so Ctrl-C at any moment exits 130 quietly.
"""

from __future__ import annotations

import argparse
import contextvars
import gc
import sys
import time
from contextlib import contextmanager

from archdsl.commands.common import (EXIT_ERRORS, EXIT_OK, EXIT_USAGE, add_spec_arguments, limits_of, load_for,
                                     report)
from archdsl.commands.files import is_many
from archdsl.commands.verdicts import library_verdict, verdict
from archdsl.commands.streams import OutputError, guarded_streams, internal_error, output_failed


def cmd_compile(args) -> int:
    started = time.perf_counter()
    conflict = flag_conflict(args)
    if conflict:
        print_usage_error(conflict, args.format == "json")
        return EXIT_USAGE
    if is_many(args.spec):
        from archdsl.commands.many import check_many, refuse

        return refuse(args) or check_many(args)
    args.spec = args.spec[0]
    graph = load_for(args, library=args.check)
    if graph is None:
        return EXIT_ERRORS
    from archdsl.semantics.userblocks import BlockLibrary

    if isinstance(graph, BlockLibrary):  # checked on its own (with --check only)
        print(library_verdict(graph, time.perf_counter() - started))
        return EXIT_OK
    if args.emit == "ir":
        from archdsl.ir.printer import dump

        print(dump(graph), end="")
        return EXIT_OK
    if args.check:
        print(verdict(graph, time.perf_counter() - started))
        return EXIT_OK
    module = build_module(graph, args)
    if args.emit == "code":
        from archdsl.backends.torch.codegen import generated_code

        print(generated_code(module))
        return EXIT_OK
    print(verdict(graph, time.perf_counter() - started))
    if args.torch_compile:
        from archdsl.backends.torch.options import try_compile

        result = try_compile(module, _input_shape(graph), args.torch_compile)
        print(result)
        return EXIT_OK if result.ok else EXIT_ERRORS
    if args.output:
        return save(module, graph, args)
    print(built(module))
    return EXIT_OK


def built(module) -> str:
    """What `compile` did when asked to write nothing: the module it built, and how to get it out."""
    from archdsl.backends.torch.codegen import forwards, generated_code

    modules = sum(1 for _ in module.modules()) - 1
    units = sum(1 for _ in forwards(module)) - 1
    lines = len(generated_code(module).splitlines())
    return (f"built a torch module: {modules:,} submodules ({units:,} stages, blocks and scopes with forwards of "
            f"their own) and {lines:,} lines of generated forward code (on the meta device, so no weights were made); "
            "nothing was written: -o FILE.pt2 saves it with torch.export, --emit code prints its forwards")


def save(module, graph, args) -> int:
    """`-o FILE.pt2`: the module as a torch.export program."""
    from archdsl.diagnostics import ArchError
    from archdsl.program import save_program

    try:
        print(save_program(module, graph, args.output))
    except ArchError as exc:
        report(exc.diagnostics, args)
        return EXIT_ERRORS
    return EXIT_OK


def flag_conflict(args) -> str | None:
    """Why `compile`'s flags cannot go together, or None: a flag for the module built (--dtype,
    --channels-last, --torch-compile, -o) with --check or --emit ir, which build none; --emit code
    with --check (no module to print) or with --torch-compile (which would run unreported); -o with
    --emit code or --torch-compile (each does something else with the module)."""
    module_flags = [flag for flag, given in (("--dtype", args.dtype), ("--channels-last", args.channels_last),
                                             ("--torch-compile", args.torch_compile), ("-o", args.output)) if given]
    if args.check and args.emit == "code":
        return "--check builds no module; --emit code prints the one built (drop --check)"
    if args.output and (args.emit == "code" or args.torch_compile):
        other = "--emit code prints the module" if args.emit == "code" else "--torch-compile runs the module"
        return f"{other}; -o saves it (use one or the other)"
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
    """The lowered module, in the dtype and layout asked for. Only --torch-compile runs it and -o
    saves it, so only then are its weights allocated (on the GPU if there is one, for
    --torch-compile); otherwise they are on the meta device, which holds no storage: `--emit code`
    needs no more memory than `--check`."""
    import torch

    from archdsl.api import build

    if args.output:
        return build(graph, dtype=args.dtype, channels_last=args.channels_last, limits=limits_of(args))
    if not args.torch_compile:
        with torch.device("meta"):
            return build(graph, init=False, dtype=args.dtype, channels_last=args.channels_last,
                         limits=limits_of(args))
    device = "cuda" if torch.cuda.is_available() else None
    return build(graph, init=False, dtype=args.dtype, channels_last=args.channels_last, device=device,
                 limits=limits_of(args))


def program_path(text: str) -> str:
    """-o's file (argparse type): a .pt2 file, as torch.export.save writes."""
    if not text.lower().endswith(".pt2"):
        raise argparse.ArgumentTypeError(f"expected a file name ending in .pt2 (a torch.export program), got "
                                         f"{text!r}; `archdsl export` writes .onnx")
    return text


def _input_shape(graph) -> tuple[int, int, int]:
    t = graph.input_type
    return t.channels, t.height, t.width


#: whether this run's usage errors are written as JSON (the command line asked for --format json)
_JSON_USAGE = contextvars.ContextVar("json_usage", default=False)


class Parser(argparse.ArgumentParser):
    """argparse's parser (its subcommands' too), whose usage errors are one JSON object (E0010)
    when the command line asks for `--format json`; the exit status is 2 either way."""

    def error(self, message: str):
        if not _JSON_USAGE.get():
            super().error(message)
        print_usage_error(message, True, self.prog)
        self.exit(EXIT_USAGE)


def print_usage_error(message: str, json_format: bool, prog: str = "archdsl") -> None:
    """A usage error on stderr: `prog: error: message` after the usage, or E0010 as JSON."""
    if not json_format:
        print(f"error: {message}", file=sys.stderr)
        return
    from archdsl.diagnostics import error, to_json_lines

    print(to_json_lines([error("E0010", message, None, "", f"`{prog} --help` shows how the command is used")]),
          file=sys.stderr)


def wants_json(argv: list[str]) -> bool:
    """Whether a command line asks for JSON (`--format json`, `--format=json`, summary's `--json`),
    read before it is parsed, so that a usage error can be JSON too."""
    return "--json" in argv or "--format=json" in argv or any(
        word == "--format" and value == "json" for word, value in zip(argv, argv[1:]))


def build_parser() -> argparse.ArgumentParser:
    from archdsl.api import COMPILE_MODES, DTYPE_NAMES

    from archdsl import __version__

    parser = Parser(prog="archdsl", description="Compile .arch network specs.")
    parser.add_argument("--version", action="version", version=f"archdsl {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = commands.add_parser("compile", help="check a spec and lower it to a torch module")
    add_spec_arguments(p, many=True)
    p.add_argument("--check", action="store_true", help="only check: no torch import, no module built")
    p.add_argument("--emit", choices=("ir", "code"), help="print the IR, or the generated torch code")
    p.add_argument("--dtype", choices=DTYPE_NAMES, help="build the module in this dtype (parameters and input)")
    p.add_argument("--channels-last", action="store_true", help="conv weights and the input in the NHWC layout")
    p.add_argument("--torch-compile", nargs="?", const="default", choices=COMPILE_MODES, metavar="MODE",
                   help="compile the module with torch.compile now (on the GPU if there is one), run it once and "
                        f"compare with eager; exit 1 on a graph break or a mismatch. MODE: {', '.join(COMPILE_MODES)}")
    p.add_argument("-o", "--output", type=program_path, metavar="FILE.pt2",
                   help="save the module (eval mode, freshly initialised weights) as a torch.export program")
    p.set_defaults(run=cmd_compile)
    for register in _command_modules():
        register(commands)
    return parser


def _command_modules():
    """Commands that live in their own modules register themselves here."""
    from archdsl.commands import explain, export, fmt, importer, render, summary, weights, zoo
    from archdsl.lsp import command as lsp

    return [summary.register, render.register, explain.register, zoo.register, weights.register, export.register,
            fmt.register, lsp.register, importer.register]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; the exit status. Every import that takes time happens in here."""
    json_format = False
    words = sys.argv[1:] if argv is None else [str(word) for word in argv]
    usage_format = _JSON_USAGE.set(wants_json(words))
    try:
        with guarded_streams(), collector_paused():
            try:
                parser = build_parser()
                args = parser.parse_args(argv)
                json_format = getattr(args, "format", "text") == "json"
                status = run_command(parser, args)
                sys.stdout.flush()
                return status
            except OutputError as exc:
                return output_failed(exc)
            except Exception as exc:
                return internal_error(exc, json_format)
    except KeyboardInterrupt:
        return 130
    except OutputError as exc:  # the report of an internal error could not be written
        return output_failed(exc)
    finally:
        _JSON_USAGE.reset(usage_format)


#: commands that run until they are stopped, for which the cycle collector runs as usual
RUNS_UNTIL_STOPPED = {"lsp"}


@contextmanager
def collector_paused():
    """Python's cycle collector paused while a command runs (but the language server). A check
    makes many small objects that live until its spec is done (syntax tree, IR nodes, types) and
    few cycles; the collector scanned them again and again, a tenth of a check's time, and its
    runs during the imports too. Commands over many specs collect after each one
    (archdsl.commands.many), so memory stays bounded."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_command(parser: argparse.ArgumentParser, args) -> int:
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.command in RUNS_UNTIL_STOPPED:
        gc.enable()
    try:
        return args.run(args)
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        return no_torch(args)


#: what a command needs torch for, where it is not building a module
NEEDS_TORCH = {"check-weights": "reading a .pth or .pt checkpoint", "export": "exporting to ONNX",
               "import": "importing a PyTorch module"}


def no_torch(args) -> int:
    """E0006, in the format asked for: the command needs torch, which is not installed."""
    from archdsl.api import NO_TORCH_HELP
    from archdsl.diagnostics import error

    what = NEEDS_TORCH.get(args.command, "building a module")
    report([error("E0006", f"{what} needs PyTorch, which is not installed", None, "", NO_TORCH_HELP)], args)
    return EXIT_ERRORS


if __name__ == "__main__":
    sys.exit(main())
