"""`archdsl check-weights SPEC FILE`: a checkpoint's keys and shapes against the spec, without
building the model (the state comes from the IR; only the file's shapes are read).
`archdsl check-weights FILE` names the network the checkpoint fits (archdsl.identify); so does
the first line of a check against a spec that most of the checkpoint does not fit."""

from __future__ import annotations

from archdsl.commands.common import EXIT_ERRORS, EXIT_OK, add_spec_arguments, load_for, report
from archdsl.diagnostics import MAX_REPORTED

#: the per-key differences shown (in text) under a checkpoint of another network; the rest are counted
MAX_KEYS_SHOWN = 10


def register(subparsers) -> None:
    p = subparsers.add_parser("check-weights", help="check a checkpoint's keys and shapes against a spec, or "
                                                    "name the network a checkpoint fits",
                              usage="archdsl check-weights [SPEC] FILE [options]",
                              description="Compare a checkpoint (.pth/.pt state_dict, or .safetensors) with the "
                                          "state the spec makes, without building the model: every missing, "
                                          "unexpected or mis-shaped key at the spec line that makes the layer. "
                                          "A classifier head of another size is a warning: "
                                          "archdsl.build(weights=...) loads all but the head. With FILE alone, "
                                          "or when most of the checkpoint does not fit the spec, the networks "
                                          "archdsl can name (archdsl list, ARCHDSL_PATH) are searched for the "
                                          "one it fits.")
    add_spec_arguments(p)
    p.add_argument("checkpoint", nargs="?", metavar="FILE", help="the checkpoint file")
    p.set_defaults(run=run)


def run(args) -> int:
    from archdsl.weights import WeightsError, compare, read_shapes

    if args.checkpoint is None:  # `check-weights FILE`: which network is this?
        args.checkpoint = args.spec
        try:
            return which_network(args, read_shapes(args.checkpoint))
        except WeightsError as exc:
            report([exc.diagnostic], args)
            return EXIT_ERRORS
    graph = load_for(args)
    if graph is None:
        return EXIT_ERRORS
    try:
        shapes = read_shapes(args.checkpoint)
    except WeightsError as exc:
        report([exc.diagnostic], args)
        return EXIT_ERRORS
    found = compare(graph, shapes)
    headline = another_network(graph, shapes) if any(d.is_error for d in found) else None
    if headline is not None:
        found = [headline, *found]
    if report(found, args, MAX_REPORTED if headline is None else 1 + MAX_KEYS_SHOWN):
        return EXIT_ERRORS
    print(f"ok: {args.checkpoint}: {len(shapes):,} tensors match {graph.name}"
          + (" but the head (see the warning)" if found else ""))
    return EXIT_OK


def another_network(graph, shapes: dict):
    """E0605 when most of the tensors the spec makes are not in the checkpoint at their shapes:
    how many match, and the network the checkpoint fits, or the nearest; None otherwise."""
    from archdsl.identify import fit, identify, state_shapes

    here = fit(graph.name, state_shapes(graph), shapes)
    if 2 * here.matched >= here.total:
        return None
    return _fit_diagnostic(f"{here.matched:,} of {here.total:,} tensors match", identify(shapes))


def which_network(args, shapes: dict) -> int:
    """`check-weights FILE`: the network the checkpoint fits exactly (exit 0), else E0605 (exit 1)."""
    from archdsl.identify import identify

    fits = identify(shapes)
    if fits and fits[0].exact:
        print(f"ok: {args.checkpoint}: {len(shapes):,} tensors; this checkpoint fits {fits[0]}")
        return EXIT_OK
    report([_fit_diagnostic(f"{len(shapes):,} tensors", fits)], args)
    return EXIT_ERRORS


def _fit_diagnostic(counted: str, fits: list):
    from archdsl.diagnostics import error

    if fits and fits[0].exact:
        name = fits[0].name
        return error("E0605", f"{counted}; this checkpoint fits {fits[0]}", None, "",
                     f"it is a checkpoint of `{name}`: check or load it with that name "
                     f"(`archdsl check-weights {name} FILE`, archdsl.build(\"{name}\", weights=FILE))")
    near = fits[0] if fits and 2 * fits[0].matched >= fits[0].tensors else None  # makes half the checkpoint
    nearest = f"; the nearest is {near}" if near is not None else ""
    return error("E0605", f"{counted}; no network archdsl can name fits this checkpoint{nearest}", None, "",
                 "a checkpoint of a network archdsl has no spec for: write one whose layer names and shapes "
                 "are the checkpoint's (`archdsl list` shows the networks searched; ARCHDSL_PATH adds yours)")
