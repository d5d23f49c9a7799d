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

SPARSITY_HELP = ("none | dropout:P | l1:W | hoyer:W | kl:RHO:W | kwta:DENSITY | topk:K | "
                 "sc:ALPHA[:ITERS] (cnn: a sparse-coding front end)")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``train`` to the ``actsparse`` subparsers ``sub``; return its parser.

    Example:
        >>> parser = argparse.ArgumentParser(prog="actsparse")
        >>> p = add_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["train", "--model", "cnn", "--data", "mnist", "--out", "r"])
        >>> args.sparsity, args.epochs, args.resume
        ('none', 3, False)
    """
    defaults = TrainConfig()
    p: argparse.ArgumentParser = sub.add_parser(
        "train", help="train a small model with induced activation sparsity")
    p.add_argument("--model", required=True, choices=ARCHS)
    p.add_argument("--data", required=True,
                   help="mnist, fashion-mnist or digits (cnn, mlp); speech-commands (synthesised) "
                        "or speech-commands:PATH (a Google Speech Commands folder) for ds-cnn, "
                        "gsc-cnn")
    p.add_argument("--sparsity", default="none", help=SPARSITY_HELP + " (default: none)")
    p.add_argument("--epochs", type=positive_int, default=defaults.epochs)
    p.add_argument("--seed", type=non_negative_int, default=defaults.seed)
    add_batch_size(p, default=defaults.batch_size)
    p.add_argument("--lr", type=positive_float, default=defaults.lr, help="Adam learning rate")
    p.add_argument("--lr-decay", type=fraction, default=defaults.lr_decay,
                   help="learning rate factor per epoch")
    p.add_argument("--patience", type=positive_int, default=None,
                   help="speech: stop after N epochs without a better val accuracy")
    add_limit(p, help="use the first N training images (clips)")
    add_out(p, help="output folder (checkpoint, metrics.json)")
    p.add_argument("--resume", action="store_true",
                   help="continue after the last complete epoch of the checkpoint in --out")
    add_threads(p, help="torch CPU threads (default: torch's; 1 is faster on a busy machine)")
    add_no_progress(p)
    return p


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
    words = ["actsparse", "train", "--model", args.model, "--data", args.data,
             "--sparsity", args.sparsity, "--epochs", str(args.epochs), "--seed", str(args.seed),
             "--batch-size", str(args.batch_size), "--lr", f"{args.lr:g}",
             "--lr-decay", f"{args.lr_decay:g}", "--out", str(args.out)]
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
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be at least 1 training image, got {args.limit}")
    config = TrainConfig(
        model=args.model, data=args.data, sparsity=args.sparsity, epochs=args.epochs,
        seed=args.seed, batch_size=args.batch_size, lr=args.lr, lr_decay=args.lr_decay,
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
