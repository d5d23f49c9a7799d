"""``actsparse study``: its arguments, a handler that calls ``run_study``, the claims as text."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from actsparse.cli.common import add_no_progress, add_out, add_threads, positive_int, set_threads
from actsparse.study import study as study_module
from actsparse.study.recsys_claims import RECSYS_VARIANTS
from actsparse.study.variants import VARIANTS
from actsparse.train.recsys_run import RecsysConfig
from actsparse.zoo.ratings import is_ratings_name

IMAGE_EPOCHS = 3


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``study`` to the ``actsparse`` subparsers ``sub``; return its parser.

    Example:
        >>> parser = argparse.ArgumentParser(prog="actsparse")
        >>> p = add_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["study", "--data", "mnist", "--out", "runs/s"])
        >>> args.seeds, args.epochs, args.variants, args.train_limit
        (3, None, None, None)
        >>> parser.parse_args(["study", "--data", "movielens:ml-1m", "--out", "s"]).data
        'movielens:ml-1m'
    """
    p: argparse.ArgumentParser = sub.add_parser(
        "study", help="train dense and sparse variants over seeds, measure the claims about "
                      "sparse representations, write study.json and report.html")
    p.add_argument("--data", required=True, type=study_data,
                   help="mnist, fashion-mnist, digits (tiny 8x8 images, for a quick check), "
                        "or ratings: movielens-100k or movielens:PATH (the recommender study)")
    p.add_argument("--seeds", type=positive_int, default=3,
                   help="seeds 0..N-1 per variant (default: 3; 2+ for confidence intervals)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help=f"training epochs (default: {IMAGE_EPOCHS}; {RecsysConfig().epochs} for "
                        "ratings, the best validation epoch kept)")
    p.add_argument("--variants", nargs="+", default=None, metavar="NAME",
                   help=f"subset of: {', '.join(VARIANTS)} (images) or "
                        f"{', '.join(RECSYS_VARIANTS)} (ratings); must include dense; default: "
                        "all that can be trained")
    p.add_argument("--reuse", default=None, metavar="RUNS",
                   help="ratings only: the --runs folder of benchmarks.recsys_sparse; its "
                        "finished runs of the same config are linked in instead of trained")
    p.add_argument("--jobs", type=positive_int, default=1,
                   help="ratings only: runs trained in parallel processes, one thread each "
                        "(default: 1)")
    p.add_argument("--train-limit", type=positive_int, default=None,
                   help="train on the first N training images (default: all)")
    p.add_argument("--test-limit", type=positive_int, default=None,
                   help="measure on the first N test images (default: all)")
    add_threads(p)
    add_out(p, help="study folder (runs, study.json, report.html)")
    add_no_progress(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Handle ``actsparse study``: run it, print the claims and the report's path.

    Bad settings raise ``ValueError`` for :func:`actsparse.cli.app.main` to print.
    """
    set_threads(args.threads)
    try:
        epochs = args.epochs or (RecsysConfig().epochs if is_ratings_name(args.data)
                                 else IMAGE_EPOCHS)
        study = study_module.run_study(  # looked up here: tests replace it
            args.data, args.seeds, epochs, Path(args.out), variants=args.variants,
            train_limit=args.train_limit, test_limit=args.test_limit,
            progress=not args.no_progress, reuse=args.reuse, jobs=args.jobs)
    except KeyboardInterrupt:
        print("\ninterrupted: the finished epochs and runs are saved; run the same command "
              "again to resume", file=sys.stderr)
        return 130
    print(claims_text(study))
    print(f"report: {(Path(args.out) / 'report.html').resolve()}")
    return 0


def study_data(text: str) -> str:
    """An argparse ``type``: an image data set of the study, or ratings data.

    Example:
        >>> study_data("movielens-100k"), study_data("mnist")
        ('movielens-100k', 'mnist')
        >>> study_data("cifar")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: unknown data 'cifar'; choose mnist, fashion-mnist, digits, \
movielens-100k or movielens:PATH
    """
    if text in study_module.DATASETS or is_ratings_name(text):
        return text
    raise argparse.ArgumentTypeError(f"unknown data {text!r}; choose "
                                     f"{', '.join(study_module.DATASETS)}, movielens-100k or "
                                     "movielens:PATH")


def claims_text(study: dict[str, Any]) -> str:
    """The claims table and the anchor as plain text, for the terminal.

    Example:
        >>> print(claims_text({"claims": [{"claim": "noise", "verdict": "supported",
        ...                                "evidence": "noise score: dense 1, kwta 2"}]}))
        claims (verdicts computed from the numbers):
          noise                  supported      noise score: dense 1, kwta 2
    """
    lines = ["claims (verdicts computed from the numbers):"]
    for c in study.get("claims", []):
        lines.append(f"  {c['claim']:<22} {c['verdict']:<14} {c['evidence']}")
    anchor = study.get("anchor") or {}
    if anchor.get("available"):
        lines.append("Numenta's MNIST table and ours (accuracy %, noise score):")
        for r in anchor["numenta"]:
            lines.append(f"  {r['model']:<28} {r['accuracy'] * 100:6.2f}  {r['noise_score']:>7,}")
        for r in anchor["ours"]:
            acc, score = r["accuracy"], r["noise_score"]
            half = "" if acc["hi"] is None else f" ± {(acc['hi'] - acc['mean']) * 100:.2f}"
            shalf = "" if score["hi"] is None else f" ± {score['hi'] - score['mean']:,.0f}"
            per10k = ("" if r["test_images"] == 10000 else
                      f", {r['noise_score_per_10k']['mean']:,.0f} per 10,000")
            lines.append(f"  ours: {r['variant']:<22} {acc['mean'] * 100:6.2f}{half}  "
                         f"{score['mean']:>7,.0f}{shalf} ({r['test_images']} test images"
                         f"{per10k}, {r['seeds']} seed(s))")
    return "\n".join(lines)
