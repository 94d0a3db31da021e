"""`archdsl import SOURCE -o FILE.arch`: a PyTorch module written out as a spec."""

from __future__ import annotations

import argparse
import os

from archdsl.commands.common import EXIT_ERRORS, EXIT_OK, parse_size, report


def arch_path(text: str) -> str:
    if not text.endswith(".arch"):
        raise argparse.ArgumentTypeError(f"expected a file name ending in .arch, got {text!r}")
    return text


def register(subparsers) -> None:
    p = subparsers.add_parser("import", help="write a PyTorch module (torchvision, timm or your own) as a spec",
                              description="Trace the module with torch.fx, write it as a .arch spec (repeated "
                                          "modules as blocks and rows), build the spec, load the module's weights "
                                          "into it and compare the outputs in eval and training mode before "
                                          "writing. SOURCE is torchvision:NAME, timm:NAME or package.module:callable "
                                          "(keyword arguments in brackets: torchvision:googlenet(aux_logits=False)).")
    p.add_argument("spec", metavar="SOURCE", help="torchvision:NAME, timm:NAME or package.module:callable")
    p.add_argument("-o", "--output", required=True, type=arch_path, metavar="FILE.arch", help="the spec to write")
    p.add_argument("--input", type=parse_size, metavar="CxHxW", help="the input to trace with (default 3x224x224)")
    p.add_argument("--name", help="the network's name (default: the module's class name)")
    p.add_argument("--no-check-roundtrip", dest="check_roundtrip", action="store_false",
                   help="write the spec without building it and comparing outputs")
    p.add_argument("--format", choices=("text", "json"), default="text", help="text or json, for the diagnostics")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto", help="colour the diagnostics")
    p.set_defaults(run=run, strict=False)


def input_size(sizes) -> tuple[int, int, int]:
    """--input as channels, height, width (3 channels unless given)."""
    if not sizes:
        return (3, 224, 224)
    if len(sizes) == 1:
        return (3, sizes[0], sizes[0])
    return tuple(sizes) if len(sizes) == 3 else (3, *sizes)


def write(path: str, text: str) -> None:
    """The spec at `path`, whole or not at all: written beside it, then moved into place."""
    temporary = path + ".part"
    try:
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def run(args) -> int:
    from archdsl.backends.importer import import_module
    from archdsl.backends.importer.refusal import Refusal
    from archdsl.backends.importer.sources import resolve
    from archdsl.diagnostics import ArchError

    try:
        module = resolve(args.spec)
        done = import_module(module, input_size(args.input), args.name, args.check_roundtrip, origin=args.spec)
    except Refusal as exc:
        report([exc.diagnostic], args)
        return EXIT_ERRORS
    except ArchError as exc:
        report(exc.diagnostics, args)
        return EXIT_ERRORS
    try:
        write(args.output, done.text)
    except OSError as exc:
        from archdsl.diagnostics import error

        report([error("E0004", f"cannot write `{args.output}`: {exc.strerror or exc}", None, "",
                      "check that the folder exists and is writable")], args)
        return EXIT_ERRORS
    checked = f"round trip: {done.round_trip}" if done.round_trip else "round trip not checked"
    print(f"ok: wrote {args.output}: {done.lines} lines; {checked}")
    return EXIT_OK
