"""Sparse codes in the Mult-DAE recommender on MovieLens-100K: dense, k-WTA, TopK, L1, dropout.

    .venv/bin/python -m benchmarks.recsys_sparse --seeds 0 1 2 3 4 --jobs 2   # ~1 min a run

Each (variant, seed) is one ``actsparse train --model mult-dae`` run through the public API
(:func:`actsparse.train.train_recsys`, 100 epochs, best validation epoch kept): the seed
decides the per-user split, the initialisation and the shuffling, and the baselines (EASE,
ItemKNN, most popular, tuned on validation) are measured on the same split in the same run.
Reported per variant: test NDCG@20 / Recall@20 (mean and 95% t-interval over seeds), the
code's density (exact zeros) and its near-zero fraction (|a| < 0.01), and NDCG@20 relative
to EASE's on the same split. Writes ``benchmarks/results/recsys_sparse.json``; the run
folders go to ``--runs`` (a temporary folder by default); finished runs there are reused.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from actsparse.train import RecsysConfig, train_recsys
from benchmarks._timing import write_json

VARIANTS = ("none", "kwta:0.1", "topk:60", "l1:100", "l1:1000", "dropout:0.5")
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
       9: 2.262}  # two-sided 95% Student t, by degrees of freedom


def one_run(data: str, sparsity: str, seed: int, epochs: int, folder: str) -> dict[str, Any]:
    """Train one variant on one seed (one torch thread); its metrics.json.

    A finished run of the same config in ``folder`` is read back instead of trained again
    (so a larger ``--seeds`` with the same ``--runs`` trains only the new seeds)."""
    config = RecsysConfig(data=data, sparsity=sparsity, seed=seed, epochs=epochs)
    done = Path(folder) / "metrics.json"
    if done.is_file():
        metrics: dict[str, Any] = json.loads(done.read_text())
        if metrics.get("config") == asdict(config):
            return metrics
    torch.set_num_threads(1)
    return train_recsys(config, Path(folder), progress=False)


def interval(values: list[float]) -> dict[str, float]:
    """Mean and 95% t-interval half-width (NaN for one value)."""
    mean = statistics.fmean(values)
    n = len(values)
    half = (T95.get(n - 1, 1.96) * statistics.stdev(values) / math.sqrt(n)) if n > 1 else math.nan
    return {"mean": mean, "ci95": half, "n": n}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="movielens-100k")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--epochs", type=int, default=RecsysConfig().epochs)
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel, one thread each")
    parser.add_argument("--runs", default=None, help="folder for the run folders")
    parser.add_argument("--out", default="benchmarks/results/recsys_sparse.json")
    args = parser.parse_args(argv)

    runs = Path(args.runs or tempfile.mkdtemp(prefix="recsys_sparse_"))
    jobs = [(v, s) for s in args.seeds for v in args.variants]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {(v, s): pool.submit(one_run, args.data, v, s, args.epochs,
                                       str(runs / f"{v.replace(':', '_')}-seed{s}"))
                   for v, s in jobs}
        metrics = {key: f.result() for key, f in futures.items()}

    per_run = [{"variant": v, "seed": s, **_summary(metrics[(v, s)])} for v, s in jobs]
    variants: dict[str, Any] = {}
    for v in args.variants:
        rows = [r for r in per_run if r["variant"] == v]
        variants[v] = {key: interval([r[key] for r in rows]) for key in (
            "ndcg@20", "recall@20", "ndcg@10", "recall@10", "density", "near_zero@0.01",
            "ndcg@20_vs_ease", "best_epoch", "seconds")}
    baselines = {name: {key: interval([metrics[(args.variants[0], s)]["baselines"][name][key]
                                       for s in args.seeds])
                        for key in ("ndcg@20", "recall@20", "ndcg@10", "recall@10")}
                 for name in ("ease", "itemknn", "popular")}
    for v, row in variants.items():
        print(f"{v:12s} NDCG@20 {row['ndcg@20']['mean']:.4f} ± {row['ndcg@20']['ci95']:.4f}  "
              f"Recall@20 {row['recall@20']['mean']:.4f}  density {row['density']['mean']:.3f}  "
              f"near-zero {row['near_zero@0.01']['mean']:.3f}  "
              f"vs EASE {row['ndcg@20_vs_ease']['mean']:.3f}")
    for name, row in baselines.items():
        print(f"{name:12s} NDCG@20 {row['ndcg@20']['mean']:.4f} ± {row['ndcg@20']['ci95']:.4f}")
    payload = {
        "data": args.data, "seeds": args.seeds, "epochs": args.epochs,
        "model": "mult-dae [I-600-I], tanh code act1; input dropout 0.5; Adam 1e-3, batch 128",
        "protocol": "implicit (all ratings), per-user random 80/10/10 split by seed, best "
                    "validation NDCG@20 epoch kept, test ranks all items not in "
                    "train+validation; baselines tuned on validation on the same split",
        "command": "python -m benchmarks.recsys_sparse " + " ".join(
            sys.argv[1:] if argv is None else argv),
        "variants": variants, "baselines": baselines, "runs": per_run,
    }
    write_json(args.out, payload)
    return payload


def _summary(m: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: m[k] for k in ("ndcg@20", "recall@20", "ndcg@10", "recall@10", "best_epoch",
                             "seconds")},
        "density": m["density"]["act1"],
        "near_zero@0.01": m["near_zero"]["act1"]["0.01"],
        "ndcg@20_vs_ease": m["ndcg@20"] / m["baselines"]["ease"]["ndcg@20"],
        "baselines": m["baselines"],
    }


if __name__ == "__main__":
    main()
