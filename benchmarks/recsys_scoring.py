"""Scoring all items from a sparse user code: the Mult-DAE decoder as a sparse-input Linear.

    .venv/bin/python -m benchmarks.recsys_scoring --run /tmp/rsb/runs/kwta_0.1-seed0

The decoder of a finished k-WTA run (code 600 -> 1,682 item logits) is timed on the codes of
the test users (encoder and k-WTA of train + validation), as torch's dense ``nn.Linear``
against the project's ``SparseInputLinear`` (``mode="sparse"``, the compiled kernel), one
thread, interleaved repeats (:func:`actsparse._timing.interleaved`), at batch 1 (one user at a
time, ``--calls`` users per repeat) and at batch 256. Both must give the same scores (checked).
Also the memory of storing every user's code: dense float32 against the nonzeros as int16
unit indices + float32 values (and the CSR row pointers). Writes
``benchmarks/results/recsys_scoring.json``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch

from actsparse._timing import interleaved
from actsparse.exploit import SparseInputLinear
from actsparse.train.recsys_robust import load_run
from benchmarks._timing import write_json


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a finished mult-dae k-WTA run folder")
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--calls", type=int, default=200, help="batch-1 calls per repeat")
    parser.add_argument("--out", default="benchmarks/results/recsys_scoring.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    model, split, metrics = load_run(args.run)
    with torch.inference_mode():
        codes = model.act1(model.encoder(torch.nn.functional.normalize(split.test_input(),
                                                                       dim=1)))  # (U, H)
    dense = model.decoder
    sparse = SparseInputLinear.from_dense(dense, mode="sparse").eval()
    results: dict[str, Any] = {}
    with torch.inference_mode():
        ref, got = dense(codes), sparse(codes)
        max_err = float((ref - got).abs().max())
        rows = [codes[i:i + 1].clone() for i in range(args.calls)]
        batch = codes[:256].clone()

        def one(layer: torch.nn.Module) -> Any:
            return lambda: [layer(r) for r in rows]

        for name, fns, per in (("batch1", [one(dense), one(sparse)], args.calls),
                               ("batch256", [lambda: dense(batch), lambda: sparse(batch)], 1)):
            t = interleaved(fns, repeats=args.repeats, warmup=2)
            results[name] = {"dense_us": t.medians[0] / per * 1e6,
                             "sparse_us": t.medians[1] / per * 1e6,
                             "speedup": t.ratio(0, 1), "timings": t.to_dict()}
            print(f"{name}: dense {results[name]['dense_us']:.1f} us, sparse "
                  f"{results[name]['sparse_us']:.1f} us per call, speedup "
                  f"{results[name]['speedup']:.2f}x", flush=True)
        route = sparse.last_route
    nnz = int((codes != 0).sum())
    users, hidden = codes.shape
    memory = {"users": users, "hidden": hidden, "nonzeros": nnz,
              "density": nnz / codes.numel(),
              "dense_bytes": codes.numel() * 4,
              "sparse_bytes": nnz * (2 + 4) + (users + 1) * 4}
    memory["ratio"] = memory["dense_bytes"] / memory["sparse_bytes"]
    print(f"codes: dense {memory['dense_bytes']} B, sparse {memory['sparse_bytes']} B "
          f"({memory['ratio']:.2f}x smaller), density {memory['density']:.3f}; "
          f"max |dense - sparse| {max_err:.2e}; route {route}")
    payload = {
        "run": str(args.run), "sparsity": metrics["sparsity"], "seed": metrics["config"]["seed"],
        "layer": f"decoder Linear({dense.in_features} -> {dense.out_features})",
        "threads": 1, "route": route, "max_abs_error": max_err,
        "command": "python -m benchmarks.recsys_scoring " + " ".join(
            sys.argv[1:] if argv is None else argv),
        **results, "memory": memory,
    }
    write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
