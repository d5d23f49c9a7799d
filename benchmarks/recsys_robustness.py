"""Robustness to irrelevant interactions: does a sparse Mult-DAE code lose less NDCG than dense?

    .venv/bin/python -m benchmarks.recsys_robustness --runs /tmp/rsb/runs --seeds 0 1 2 3 4

Each test user's input history gets a fraction p of random unseen items that are not among
its test items (:mod:`actsparse.train.recsys_robust`, injection seed 0, the same items for
every model of a split), p in (0, 0.1, 0.25, 0.5). Evaluated: the best epoch of the finished
``benchmarks.recsys_sparse`` run folders in ``--runs`` (runs missing there are trained, as
that benchmark does) for each variant and seed, and EASE on each seed's split. The figure is
the relative drop of test NDCG@20 from p = 0. The verdict per sparse variant and p: the
per-seed paired difference ``drop(sparse) - drop(dense)`` with its 95% t-interval; "smaller"
when the interval lies below 0, "larger" above, "no significant difference" otherwise.
Writes ``benchmarks/results/recsys_robustness.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from actsparse.train import RecsysConfig
from actsparse.train.recsys_robust import PS, run_robustness
from benchmarks._timing import write_json
from benchmarks.recsys_sparse import interval, one_run

VARIANTS = ("none", "kwta:0.1", "dropout:0.5")


def verdict(diff: dict[str, float]) -> str:
    """'smaller' / 'larger' / 'no significant difference' from a paired-difference interval.

    Example:
        >>> verdict({"mean": -0.02, "ci95": 0.01, "n": 5})
        'smaller'
    """
    lo, hi = diff["mean"] - diff["ci95"], diff["mean"] + diff["ci95"]
    if hi < 0:
        return "smaller"
    if lo > 0:
        return "larger"
    return "no significant difference"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="movielens-100k")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS),
                        help="the first is the reference (dense)")
    parser.add_argument("--ps", type=float, nargs="+", default=list(PS))
    parser.add_argument("--epochs", type=int, default=RecsysConfig().epochs)
    parser.add_argument("--injection-seed", type=int, default=0)
    parser.add_argument("--runs", default=None, help="benchmarks.recsys_sparse's run folders")
    parser.add_argument("--out", default="benchmarks/results/recsys_robustness.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    runs = Path(args.runs or tempfile.mkdtemp(prefix="recsys_sparse_"))
    per_run: list[dict[str, Any]] = []
    ease: dict[int, dict[str, Any]] = {}
    for s in args.seeds:
        for i, v in enumerate(args.variants):
            folder = runs / f"{v.replace(':', '_')}-seed{s}"
            one_run(args.data, v, s, args.epochs, str(folder))  # reads a finished run back
            r = run_robustness(folder, args.ps, args.injection_seed, ease=i == 0)
            if i == 0:
                ease[s] = r["ease"]
            per_run.append({"variant": v, "seed": s, **r["model"]})
            print(f"{v:12s} seed {s}  " + "  ".join(
                f"p={p}: {r['model'][str(p)]['ndcg@20']:.4f} (-{r['model'][str(p)]['drop']:.3f})"
                for p in args.ps), flush=True)

    keys = [str(float(p)) for p in args.ps]
    variants: dict[str, Any] = {}
    for v in args.variants:
        rows = {r["seed"]: r for r in per_run if r["variant"] == v}
        variants[v] = {p: {m: interval([rows[s][p][m] for s in args.seeds])
                           for m in ("ndcg@20", "recall@20", "drop")} for p in keys}
    variants["ease"] = {p: {m: interval([ease[s][p][m] for s in args.seeds])
                            for m in ("ndcg@20", "recall@20", "drop")} for p in keys}
    ref = args.variants[0]
    by = {(r["variant"], r["seed"]): r for r in per_run}
    verdicts: dict[str, Any] = {}
    for v in [*args.variants[1:], "ease"]:
        verdicts[v] = {}
        for p in keys[1:]:
            drops = [ease[s][p]["drop"] if v == "ease" else by[(v, s)][p]["drop"]
                     for s in args.seeds]
            diff = interval([d - by[(ref, s)][p]["drop"] for d, s in zip(drops, args.seeds,
                                                                        strict=True)])
            verdicts[v][p] = {"drop_minus_dense": diff, "verdict": verdict(diff)}
    for v, row in verdicts.items():
        print(f"{v:12s} drop vs {ref}: " + "  ".join(
            f"p={p}: {d['drop_minus_dense']['mean']:+.4f} ± {d['drop_minus_dense']['ci95']:.4f}"
            f" ({d['verdict']})" for p, d in row.items()))
    payload = {
        "data": args.data, "seeds": args.seeds, "ps": args.ps, "reference": ref,
        "injection": "per test user, round(p * n) random items not in train+validation nor "
                     f"test added to the input, seed {args.injection_seed}; injected items are "
                     "excluded from the ranking like seen ones",
        "metric": "test NDCG@20; drop = 1 - ndcg(p) / ndcg(0) per seed",
        "command": "python -m benchmarks.recsys_robustness " + " ".join(
            sys.argv[1:] if argv is None else argv),
        "variants": variants, "verdicts": verdicts, "runs": per_run,
        "ease_runs": [{"seed": s, **ease[s]} for s in args.seeds],
    }
    write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
