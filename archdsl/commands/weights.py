"""`archdsl check-weights SPEC FILE`: a checkpoint's keys and shapes against the spec, without
building the model (the state comes from the IR; only the file's shapes are read)."""

from __future__ import annotations

from archdsl.commands.common import EXIT_ERRORS, EXIT_OK, add_spec_arguments, load_for, report


def register(subparsers) -> None:
    p = subparsers.add_parser("check-weights", help="check a checkpoint's keys and shapes against a spec",
                              description="Compare a checkpoint (.pth/.pt state_dict, or .safetensors) with the "
                                          "state the spec makes, without building the model: every missing, "
                                          "unexpected or mis-shaped key at the spec line that makes the layer. "
                                          "A classifier head of another size is a warning: "
                                          "archdsl.build(weights=...) loads all but the head.")
    add_spec_arguments(p)
    p.add_argument("checkpoint", metavar="FILE", help="the checkpoint file")
    p.set_defaults(run=run)


def run(args) -> int:
    graph = load_for(args)
    if graph is None:
        return EXIT_ERRORS
    from archdsl.weights import WeightsError, compare, read_shapes

    try:
        shapes = read_shapes(args.checkpoint)
    except WeightsError as exc:
        report([exc.diagnostic], args)
        return EXIT_ERRORS
    found = compare(graph, shapes)
    if report(found, args):
        return EXIT_ERRORS
    print(f"ok: {args.checkpoint}: {len(shapes):,} tensors match {graph.name}"
          + (" but the head (see the warning)" if found else ""))
    return EXIT_OK
