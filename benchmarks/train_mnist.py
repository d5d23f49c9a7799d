"""The sparsity-inducing methods side by side: the MNIST CNN trained with each, same budget.

    .venv/bin/python -m benchmarks.train_mnist            # the whole table, ~25-40 min
    .venv/bin/python -m benchmarks.train_mnist --specs none kwta:0.1 --epochs 1 --limit 5000

Each spec trains ``actsparse.train``'s CNN (conv 30 -> conv 60 -> fc 200, Adam, lr 1e-3 decayed
by 0.7 per epoch, batch 128, seed 0) on the 50,000-image MNIST train split for the same number
of epochs, then reports the accuracy on the 10,000 test images, the train accuracy, the density
of each hidden activation on the test set (a Profile), and the training wall time. Runs use one
torch thread: on the shared 2-core machines that is faster than two contended threads, and it
keeps the timings comparable. Writes ``benchmarks/results/train_mnist.json`` and prints a
markdown table.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

import torch

from actsparse.train import TrainConfig, train
from benchmarks._timing import write_json

SPECS = ["kwta:0.1", "none", "dropout:0.2", "l1:0.3", "l1:1", "hoyer:0.05", "kl:0.05:0.1"]


def table(rows: list[dict[str, Any]]) -> str:
    """A markdown table of the runs."""
    lines = ["| sparsity | test acc | train acc | density act1 / act2 / act3 | mean density "
             "| epochs | train time |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        dens = " / ".join(f"{d:.3f}" for d in r["density"].values())
        mean = sum(r["density"].values()) / max(len(r["density"]), 1)
        lines.append(f"| {r['sparsity']} | {100 * r['test_accuracy']:.2f}% | "
                     f"{100 * r['train_accuracy']:.2f}% | {dens} | {mean:.3f} | {r['epochs']} | "
                     f"{r['seconds']:.0f} s |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", nargs="+", default=SPECS)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--lr-decay", type=float, default=TrainConfig.lr_decay)
    parser.add_argument("--limit", type=int, default=None, help="first N training images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", default="runs/train_mnist", help="folder of the runs")
    parser.add_argument("--json", default="benchmarks/results/train_mnist.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for spec in args.specs:
        config = TrainConfig(model="cnn", data="mnist", sparsity=spec, epochs=args.epochs,
                             seed=args.seed, lr=args.lr, lr_decay=args.lr_decay,
                             train_limit=args.limit)
        out = Path(args.runs) / spec.replace(":", "_")
        m = train(config, out, progress=False, command=shlex.join(["python", *sys.argv]))
        rows.append({k: m[k] for k in ("sparsity", "test_accuracy", "train_accuracy", "density",
                                       "epochs", "seconds", "config")})
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    print(table(rows))
    write_json(args.json, {"command": shlex.join(["python", "-m", "benchmarks.train_mnist",
                                                  *sys.argv[1:]]),
                           "threads": args.threads, "runs": rows, "table": table(rows)})


if __name__ == "__main__":
    main()
