"""`archdsl export SPEC -o model.onnx`: ONNX through torch.onnx, checked and run in onnxruntime."""

from __future__ import annotations

import argparse

from archdsl.commands.common import EXIT_ERRORS, EXIT_OK, add_spec_arguments, load_for, report
from archdsl.diagnostics import ArchError, error


def onnx_path(text: str) -> str:
    if not text.lower().endswith(".onnx"):
        raise argparse.ArgumentTypeError(f"expected a file name ending in .onnx, got {text!r}")
    return text


def opset(text: str) -> int:
    if not text.isdecimal() or not 7 <= int(text) <= 30:
        raise argparse.ArgumentTypeError(f"expected an ONNX opset from 7 to 30, got {text!r}")
    return int(text)


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="export to ONNX, check it and compare onnxruntime with torch",
                              description="Export the network to ONNX with torch.onnx, check the file with "
                                          "onnx.checker, run it in onnxruntime on a random input and compare "
                                          "with the eager module (exit 1 above 1e-4 of the largest output). "
                                          "Needs the [onnx] extra.")
    add_spec_arguments(p)
    p.add_argument("-o", "--output", required=True, type=onnx_path, metavar="FILE", help="the .onnx file to write")
    batch = p.add_mutually_exclusive_group()
    batch.add_argument("--dynamic-batch", dest="dynamic_batch", action="store_true", default=True,
                       help="a batch dimension of any size (the default)")
    batch.add_argument("--static-batch", dest="dynamic_batch", action="store_false",
                       help="fix the batch dimension at 1")
    p.add_argument("--dynamic-size", action="store_true",
                   help="height and width of any size (refused where the spec fixes its size: pad=same with a stride, "
                        "a pattern or range worked out for the input's size)")
    p.add_argument("--opset", type=opset, metavar="N", help="the ONNX opset (default: the exporter's)")
    p.add_argument("--weights", metavar="FILE", help="a checkpoint to load first (.pth/.pt/.safetensors)")
    p.set_defaults(run=run)


def run(args) -> int:
    graph = load_for(args)
    if graph is None:
        return EXIT_ERRORS
    from archdsl.export import TOLERANCE, export_onnx, size_refusal

    if args.dynamic_size and graph.size_fixed_by is not None:  # before torch is imported
        report([size_refusal(graph)], args)
        return EXIT_ERRORS
    from archdsl.api import build
    from archdsl.commands.common import limits_of

    try:
        module = build(graph, weights=args.weights, limits=limits_of(args))
        result = export_onnx(module, graph, args.output, dynamic_batch=args.dynamic_batch,
                             dynamic_size=args.dynamic_size, opset=args.opset)
    except ArchError as exc:
        report(exc.diagnostics, args)
        return EXIT_ERRORS
    print(result)
    if not result.ok:
        report([error("E0703", f"onnxruntime's output differs from the eager module's by {result.error:.1e} of the "
                               f"largest output (tolerance {TOLERANCE:.0e})", None, "",
                      "try another --opset; if it persists, please report it")], args)
        return EXIT_ERRORS
    return EXIT_OK
