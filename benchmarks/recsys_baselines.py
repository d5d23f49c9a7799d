"""Top-N baselines on MovieLens-100K: most-popular, ItemKNN, EASE and dense Mult-DAE.

    .venv/bin/python -m benchmarks.recsys_baselines            # ~1 min on 2 busy cores

Protocol (:mod:`actsparse.zoo.ratings_split`): every rating is an interaction; per user a
seeded random 80/10/10 train/validation/test split; ItemKNN's ``k`` and EASE's ``lambda``
chosen by validation NDCG@20 (models fitted on train;
:func:`actsparse.zoo.recsys_baselines.tuned_baselines`); Mult-DAE [I-600-I] trained 100
epochs, the epoch with the best validation NDCG@20 kept; test ranks every item not in the
user's train + validation part. Recall@K is normalised by min(K, |test|) (Liang et al. 2018).
Writes ``benchmarks/results/recsys_baselines.json``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from actsparse.train.mult_dae import MultDAEConfig, fit_mult_dae
from actsparse.zoo.ratings import load_ratings
from actsparse.zoo.ratings_split import split_per_user
from actsparse.zoo.recommenders import evaluate_test
from actsparse.zoo.recsys_baselines import tuned_baselines
from benchmarks._timing import write_json


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="movielens-100k")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/recsys_baselines.json")
    args = parser.parse_args(argv)

    data = load_ratings(args.data)
    split = split_per_user(data, val=0.1, test=0.1, seed=args.seed)
    t0 = time.perf_counter()
    tuned = tuned_baselines(split)
    results: dict[str, Any] = {name: tuned[name] for name in ("popular", "itemknn", "ease")}
    results["itemknn"]["k"] = int(results["itemknn"]["k"])
    dae_config = MultDAEConfig(seed=args.seed)
    dae, curve = fit_mult_dae(split, dae_config)
    results["mult-dae"] = {**evaluate_test(dae, split), "config": vars(dae_config),
                           "best_epoch": curve.index(max(curve)) + 1,
                           "validation_ndcg@20": max(curve)}
    for name, row in results.items():
        print(f"{name:8s} " + "  ".join(f"{m} {row[m]:.4f}" for m in
                                        ("recall@10", "ndcg@10", "recall@20", "ndcg@20")))
    payload = {
        "data": data.name, "users": data.num_users, "items": data.num_items,
        "interactions": len(data), "seed": args.seed,
        "protocol": "implicit (all ratings), per-user random 80/10/10, fit on train, tune on "
                    "validation NDCG@20, test ranks all items not in train+validation",
        "split_sizes": {p: int(getattr(split, p).sum()) for p in ("train", "val", "test")},
        "seconds": time.perf_counter() - t0,
        "results": results,
    }
    write_json(args.out, payload)
    return payload


if __name__ == "__main__":
    main()
