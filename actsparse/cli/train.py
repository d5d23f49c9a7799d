"""``actsparse train``: its arguments and a handler that calls :func:`~actsparse.train.train`."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from actsparse.cli.common import (
    add_batch_size,
    add_limit,
    add_no_progress,
    add_out,
    add_threads,
    fraction,
    non_negative_int,
    positive_float,
    positive_int,
    set_threads,
)
from actsparse.train.loop import TrainConfig, train
from actsparse.train.models import ARCHS
from actsparse.train.recsys_run import MODEL as MULT_DAE
from actsparse.train.recsys_run import RecsysConfig, train_recsys

MODELS = (*ARCHS, MULT_DAE)

SPARSITY_HELP = ("none | dropout:P | l1:W | hoyer:W | kl:RHO:W | kwta:DENSITY | topk:K | "
                 "sc:ALPHA[:ITERS] (cnn: a sparse-coding front end)")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``train`` to the ``actsparse`` subparsers ``sub``; return its parser.

    Example:
        >>> parser = argparse.ArgumentParser(prog="actsparse")
        >>> p = add_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["train", "--model", "cnn", "--data", "mnist", "--out", "r"])
        >>> args.sparsity, settings(args), args.resume
        ('none', (3, 0.7), False)
    """
    defaults = TrainConfig()
    p: argparse.ArgumentParser = sub.add_parser(
        "train", help="train a small model with induced activation sparsity")
    recsys = RecsysConfig()
    p.add_argument("--model", required=True, choices=MODELS,
                   help=f"ds-cnn, gsc-cnn: keyword spotting; {MULT_DAE}: a recommender")
    p.add_argument("--data", required=True,
                   help="mnist, fashion-mnist or digits (cnn, mlp); speech-commands (synthesised) "
                        "or speech-commands:PATH (a Google Speech Commands folder) for ds-cnn, "
                        "gsc-cnn; movielens-100k or movielens:PATH (u.data, ratings.dat, "
                        "ratings.csv, .inter) for mult-dae")
    p.add_argument("--sparsity", default="none", help=SPARSITY_HELP + " (default: none)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help=f"(default: {defaults.epochs}; {recsys.epochs} for {MULT_DAE})")
    p.add_argument("--seed", type=non_negative_int, default=defaults.seed)
    add_batch_size(p, default=defaults.batch_size)
    p.add_argument("--lr", type=positive_float, default=defaults.lr, help="Adam learning rate")
    p.add_argument("--lr-decay", type=fraction, default=None,
                   help=f"learning rate factor per epoch (default: {defaults.lr_decay:g}; "
                        f"{recsys.lr_decay:g} for {MULT_DAE})")
    p.add_argument("--patience", type=positive_int, default=None,
                   help="speech: stop after N epochs without a better val accuracy")
    add_limit(p, help="use the first N training images (clips)")
    add_out(p, help="output folder (checkpoint, metrics.json)")
    p.add_argument("--resume", action="store_true",
                   help="continue after the last complete epoch of the checkpoint in --out")
    add_threads(p, help="torch CPU threads (default: torch's; 1 is faster on a busy machine)")
    add_no_progress(p)
    return p


def settings(args: argparse.Namespace) -> tuple[int, float]:
    """``(epochs, lr_decay)`` of the run: as given, else the model's defaults."""
    defaults: TrainConfig | RecsysConfig = (RecsysConfig() if args.model == MULT_DAE
                                            else TrainConfig())
    return (args.epochs if args.epochs is not None else defaults.epochs,
            args.lr_decay if args.lr_decay is not None else defaults.lr_decay)


def command_line(args: argparse.Namespace) -> str:
    """The ``actsparse train`` command that repeats this run, every setting spelled out.

    Example:
        >>> parser = argparse.ArgumentParser(prog="actsparse")
        >>> _ = add_parser(parser.add_subparsers(dest="command"))
        >>> command_line(parser.parse_args(["train", "--model", "mlp", "--data", "digits",
        ...                                 "--sparsity", "l1:1e-4", "--out", "runs/x"]))
        'actsparse train --model mlp --data digits --sparsity l1:1e-4 --epochs 3 --seed 0
        --batch-size 128 --lr 0.001 --lr-decay 0.7 --out runs/x'
    """
    epochs, lr_decay = settings(args)
    words = ["actsparse", "train", "--model", args.model, "--data", args.data,
             "--sparsity", args.sparsity, "--epochs", str(epochs), "--seed", str(args.seed),
             "--batch-size", str(args.batch_size), "--lr", f"{args.lr:g}",
             "--lr-decay", f"{lr_decay:g}", "--out", str(args.out)]
    if getattr(args, "patience", None) is not None:
        words += ["--patience", str(args.patience)]
    if args.limit is not None:
        words += ["--limit", str(args.limit)]
    if args.threads is not None:
        words += ["--threads", str(args.threads)]
    return shlex.join(words)


def run(args: argparse.Namespace) -> int:
    """Handle ``actsparse train``: train, then print where the results are (exit status 0).

    Errors (a bad spec, a checkpoint of another run) propagate as ``ValueError`` for
    :func:`actsparse.cli.app.main` to print.
    """
    if args.model == MULT_DAE:
        return _run_recsys(args)
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be at least 1 training image, got {args.limit}")
    epochs, lr_decay = settings(args)
    config = TrainConfig(
        model=args.model, data=args.data, sparsity=args.sparsity, epochs=epochs,
        seed=args.seed, batch_size=args.batch_size, lr=args.lr, lr_decay=lr_decay,
        train_limit=args.limit, patience=args.patience,
    )
    command = command_line(args)
    set_threads(args.threads)
    metrics = train(config, Path(args.out), resume=args.resume,
                    progress=not args.no_progress, command=command)
    dens = ", ".join(f"{k} {v:.3f}" for k, v in metrics["density"].items())
    print(f"test accuracy {metrics['test_accuracy']:.4f}, train accuracy "
          f"{metrics['train_accuracy']:.4f}; density {dens}")
    if "best_epoch" in metrics:
        held = metrics["heldout_engine_accuracy"]
        print(f"epoch {metrics['best_epoch']} of {metrics['epochs_run']} chosen on val (accuracy "
              f"{metrics['val_accuracy']:.4f})" + ("" if held is None else
                                                    f"; held-out engine accuracy {held:.4f}"))
    print(f"wrote {Path(args.out) / 'metrics.json'}")
    return 0


def _run_recsys(args: argparse.Namespace) -> int:
    """``actsparse train --model mult-dae``: :func:`~actsparse.train.recsys_run.train_recsys`."""
    if args.limit is not None:
        raise ValueError(f"--limit takes the first N training images; --model {MULT_DAE} "
                         "trains on every user of the ratings data")
    epochs, lr_decay = settings(args)
    config = RecsysConfig(data=args.data, sparsity=args.sparsity, epochs=epochs, seed=args.seed,
                          batch_size=args.batch_size, lr=args.lr, lr_decay=lr_decay)
    config.check()
    command = command_line(args)
    set_threads(args.threads)
    metrics = train_recsys(config, Path(args.out), resume=args.resume,
                           progress=not args.no_progress, command=command)
    base = metrics["baselines"]
    print(f"test NDCG@20 {metrics['ndcg@20']:.4f}, Recall@20 {metrics['recall@20']:.4f} "
          f"(best epoch {metrics['best_epoch']}); density {metrics['density']['act1']:.3f}; "
          f"EASE NDCG@20 {base['ease']['ndcg@20']:.4f}, ItemKNN {base['itemknn']['ndcg@20']:.4f}, "
          f"most popular {base['popular']['ndcg@20']:.4f}")
    print(f"wrote {Path(args.out) / 'metrics.json'}")
    return 0
