"""The recommender study on MovieLens-100K: the claims table of ``actsparse study``.

    .venv/bin/python -m benchmarks.recsys_study --reuse RUNS --seeds 5 --out runs/study-ml100k

Runs :func:`actsparse.study.study.run_study` on ratings data (what ``actsparse study --data
movielens-100k`` runs): every variant of ``actsparse.study.recsys_claims`` over the seeds,
each a ``mult-dae`` run (100 epochs, best validation epoch), measured on the test users. RUNS
is the ``--runs`` folder of ``benchmarks.recsys_sparse``: its finished runs of the same
config are linked in instead of trained (a run missing there is trained, one thread). The
study folder (``--out``) keeps the runs, ``study.json`` and ``report.html``; this script
writes the claims, the per-variant summaries, the baselines and seed 0's most genre-selective
units to ``benchmarks/results/recsys_study.json``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch

from actsparse.study.study import run_study
from actsparse.train import RecsysConfig
from benchmarks._timing import write_json

SHOWN = ("ndcg@20", "ndcg_vs_ease", "drop_max", "density", "code_bytes_ratio",
         "genre_selectivity", "genre_selectivity_users", "overlap_users", "overlap_matched")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="movielens-100k")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=RecsysConfig().epochs)
    parser.add_argument("--reuse", default=None, help="benchmarks.recsys_sparse's run folders")
    parser.add_argument("--out", default="runs/study-ml100k", help="the study folder")
    parser.add_argument("--json", default="benchmarks/results/recsys_study.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    study = run_study(args.data, args.seeds, args.epochs, args.out, reuse=args.reuse)
    payload = {
        "data": study["data"], "seeds": study["seeds"], "epochs": study["epochs"],
        "command": "python -m benchmarks.recsys_study " + " ".join(
            sys.argv[1:] if argv is None else argv),
        "variants": study["variants"], "rule": study["rule"],
        "claims": [{k: c[k] for k in ("claim", "text", "metric", "metric_label",
                                      "higher_better", "dense", "best", "best_summary",
                                      "evidence", "verdict", "reason")}
                   for c in study["claims"]],
        "metrics": {m: study["metrics"][m] for m in SHOWN},
        "summary": {v: {m: s[m] for m in SHOWN} for v, s in study["summary"].items()},
        "baselines": study["baselines"],
        "units": {v: (u or [])[:3] for v, u in study["units"].items()},
        "reused": len(study["reused"]["runs"]),
    }
    write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
