"""What torch.compile is given: each spec model's inference graph after AOTAutograd (functionalised,
decomposed as inductor decomposes it) against its reference's.

Two graphs that are the same computation up to node names and order give torch.compile the same
work, on any device, so the compiled spec model runs the reference's compiled code. "The same" is
checked with a hash of each node built from its operator and its inputs' hashes (inputs and
constants by shape, stride and dtype or value; the arguments of add and mul in either order): the
two graphs' outputs hash alike only if the computations that reach them agree node for node.

    python3 bench/graphs.py [--save] [SPEC ...]
        a table for the given specs (default: every spec with a reference); --save stores it in
        bench/results/graphs.json and rewrites docs/performance.md with it
"""

from __future__ import annotations

import hashlib
import operator
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.eager import pair  # noqa: E402
from bench.frontend import spec_name  # noqa: E402

COMMUTATIVE = {"aten.add.Tensor", "aten.mul.Tensor", "aten.add.Scalar", "aten.mul.Scalar"}
REDUCTIONS = {"aten.mean.dim", "aten.sum.dim_IntList", "aten.amax.default", "aten.amin.default"}
COPY = "aten.clone.default"  # a copy: the same values, one more pass over memory


def inference_graph(model: torch.nn.Module, x: torch.Tensor) -> torch.fx.GraphModule:
    """The graph AOTAutograd hands inductor for `model(x)` in inference mode (one graph: fullgraph)."""
    from functorch.compile import make_boxed_func
    from torch._dynamo.backends.common import aot_autograd
    import torch._inductor.lowering  # noqa: F401  (the decomposition table consults it)
    from torch._inductor.decomposition import select_decomp_table

    graphs = []

    def keep(gm, example_inputs):
        graphs.append(gm)
        return make_boxed_func(gm.forward)

    torch._dynamo.reset()
    backend = aot_autograd(fw_compiler=keep, decompositions=select_decomp_table())
    with torch.inference_mode():
        torch.compile(model, backend=backend, fullgraph=True, dynamic=False)(x)
    torch._dynamo.reset()
    (graph,) = graphs
    return graph


def fingerprint(graph: torch.fx.GraphModule) -> tuple[str, Counter]:
    """(hash of the computation that reaches the output, count of each operator). Written-differently
    forms of one computation hash alike: a split's parts as the slices they view (`torch.split(x, 26,
    1)[1]` is `x[:, 26:52]`), a reduction's dimensions counted from the front and sorted (`mean((-1,
    -2))` is `mean((2, 3))`), a concatenation of concatenations along one dimension as one
    (`cat([cat([a, b]), c])` is `cat([a, b, c])`), and a copy (clone) as the tensor copied; the
    copies are still counted."""
    hashes: dict[torch.fx.Node, str] = {}
    splits: dict[torch.fx.Node, tuple] = {}
    concatenated: dict[torch.fx.Node, tuple] = {}  # a cat: (dimension, the hashes of what it joins)
    ops: Counter = Counter()
    output = ""
    for node in graph.graph.nodes:
        target = str(node.target)
        if node.op == "placeholder":
            hashes[node] = _digest(("input", _tensor_key(node.meta.get("val"))))
        elif node.op == "output":
            output = _digest(("output", _argument(node.args, hashes)))
        elif target == "aten.split.Tensor":
            splits[node] = _split_parts(node)
        elif node.target is operator.getitem and node.args[0] in splits:
            source, size, dim, length = splits[node.args[0]]
            ops["aten.slice.Tensor"] += 1
            hashes[node] = _slice_hash(hashes[source], dim, node.args[1] * size, (node.args[1] + 1) * size, length)
        elif target == COPY:
            ops[target] += 1
            hashes[node] = hashes[node.args[0]]
        elif target in REDUCTIONS and len(node.args) > 1:
            ops[target] += 1
            rank = node.args[0].meta["val"].dim()
            dims = sorted(d % rank for d in node.args[1])
            rest = [_argument(a, hashes) for a in node.args[2:]]
            hashes[node] = _digest((node.op, target, [hashes[node.args[0]], dims, *rest], _kwargs(node, hashes)))
        elif target == "aten.cat.default":
            ops[target] += 1
            dim = (node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)) % node.meta["val"].dim()
            parts = []
            for part in node.args[0]:
                inner = concatenated.get(part)
                parts += inner[1] if inner and inner[0] == dim else [hashes[part]]
            concatenated[node] = dim, parts
            hashes[node] = _digest(("cat", dim, parts))
        elif target == "aten.slice.Tensor" and _is_plain_slice(node):
            ops[target] += 1
            source, dim, start, end = (list(node.args) + [0, None, None])[:4]
            dim %= source.meta["val"].dim()
            hashes[node] = _slice_hash(hashes[source], dim, start or 0, end, source.meta["val"].shape[dim])
        else:
            ops[target] += 1
            args = [_argument(a, hashes) for a in node.args]
            if target in COMMUTATIVE:
                args = sorted(args, key=repr)
            hashes[node] = _digest((node.op, target, args, _kwargs(node, hashes)))
    return output, ops


def _split_parts(node: torch.fx.Node) -> tuple:
    source, size, *rest = node.args
    dim = (rest[0] if rest else node.kwargs.get("dim", 0)) % source.meta["val"].dim()
    return source, size, dim, source.meta["val"].shape[dim]


def _is_plain_slice(node: torch.fx.Node) -> bool:
    step = node.args[4] if len(node.args) > 4 else node.kwargs.get("step", 1)
    return step == 1 and not node.kwargs.get("start") and "end" not in node.kwargs


def _slice_hash(source: str, dim: int, start: int, end, length: int) -> str:
    end = length if end is None else min(end, length)
    return _digest(("slice", source, dim, min(start, length), end))


def _tensor_key(value) -> tuple:
    if isinstance(value, torch.Tensor):
        return tuple(value.shape), tuple(value.stride()), str(value.dtype)
    return (repr(value),)


def _kwargs(node: torch.fx.Node, hashes: dict) -> list:
    return sorted((k, _argument(v, hashes)) for k, v in node.kwargs.items())


def _argument(value, hashes: dict):
    if isinstance(value, torch.fx.Node):
        return hashes[value]
    if isinstance(value, (list, tuple)):
        return tuple(_argument(v, hashes) for v in value)
    return repr(value)


def _digest(value) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()[:16]


def compare(path: Path, image: int = 64, batch: int = 2, hand_written: bool = False) -> dict:
    """The spec model's inference graph against its reference's, on the CPU."""
    ours, ref, origin, _ = pair(path, "cpu", hand_written)
    x = torch.randn(batch, 3, image, image)
    (spec_hash, spec_ops), (ref_hash, ref_ops) = (fingerprint(inference_graph(m, x)) for m in (ours, ref))
    differences = {op: [spec_ops[op], ref_ops[op]] for op in sorted(set(spec_ops) | set(ref_ops))
                   if spec_ops[op] != ref_ops[op]}
    return {"spec": spec_name(path), "reference": origin, "spec_ops": sum(spec_ops.values()),
            "reference_ops": sum(ref_ops.values()), "same": spec_hash == ref_hash, "differences": differences,
            "copies": [spec_ops[COPY], ref_ops[COPY]]}


def main(argv: list[str]) -> int:
    from bench import report
    from bench.references import has_reference

    save = "--save" in argv
    names = [a for a in argv if a != "--save"]
    specs = [ROOT / "specs" / f"{name}.arch" for name in names] or [
        p for p in sorted((ROOT / "specs").rglob("*.arch")) if has_reference(spec_name(p))]
    rows = []
    for path in specs:
        print(f"[graphs] {spec_name(path)}", file=sys.stderr, flush=True)
        rows.append(compare(path))
    print(report.graphs(rows))
    if save:
        _save(rows)
    return 0 if all(r["same"] for r in rows) else 1


def _save(rows: list[dict]) -> None:
    """bench/results/graphs.json, and the page rewritten with it."""
    import datetime
    import json
    import platform

    from bench.run import GRAPHS, git_commit, reference_packages, write_document

    environment = {"references": sorted({r["reference"] for r in rows}), "python": platform.python_version(),
                   "torch": torch.__version__, **reference_packages(), "archdsl commit": git_commit(),
                   "date (UTC)": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
                   "run": "python3 bench/graphs.py --save"}
    GRAPHS.write_text(json.dumps({"environment": environment, "rows": rows}, indent=1) + "\n")
    write_document(ROOT / "docs" / "performance.md")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
