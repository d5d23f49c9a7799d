"""``actsparse demo``: the main job in a few minutes, ending with the path of the report.

1. Profile the pretrained MNIST CNN of the zoo on MNIST (``demo/profile/report.html``).
2. Accelerate it: prune dead units, swap in sparse-input kernels, measure
   (``demo/accelerate/accelerate.html``).
3. A short study (:func:`actsparse.study.study.run_study`): dense, L1 and k-WTA CNNs trained
   for one epoch on the first 20,000 MNIST training images with 3 seeds, measured on the
   first 1,000 test images, with the claims table and Numenta's anchor (``demo/report.html``, which
   links the two reports above).

The full study is ``actsparse study --data mnist --seeds 3 --epochs 3 --out runs/study``.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from actsparse._out_folder import staged_out
from actsparse.cli.accelerate import run_accelerate
from actsparse.cli.common import offline, positive_int
from actsparse.cli.profile import run_profile
from actsparse.cli.study import claims_text
from actsparse.study.measurements import MeasureSettings
from actsparse.study.study import run_study

DEMO_VARIANTS = ("dense", "l1", "kwta")
DEMO_SEEDS, DEMO_EPOCHS = 3, 1
DEMO_TRAIN, DEMO_TEST = 20000, 1000  # one epoch: ~96% test accuracy; ~100 test images a class
DEMO_SETTINGS = MeasureSettings(per_class=50, latency_images=150, calibration_images=500)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``demo`` to the ``actsparse`` subparsers ``sub``; return its parser.

    Example:
        >>> parser = argparse.ArgumentParser(prog="actsparse")
        >>> _ = add_parser(parser.add_subparsers(dest="command"))
        >>> parser.parse_args(["demo", "--limit", "64"]).limit
        64
    """
    p: argparse.ArgumentParser = sub.add_parser(
        "demo", help="profile and accelerate the pretrained MNIST CNN, then a short "
                     "dense-vs-sparse study; write the report")
    p.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    p.add_argument("--limit", type=positive_int, default=None, help="profile at most N test images")
    return p


def run(args: argparse.Namespace) -> int:
    """Handle ``actsparse demo``."""
    return run_demo(Path(args.out), limit=args.limit)


def run_demo(
    out: str | Path = "runs/demo",
    *,
    limit: int | None = None,
    progress: bool = True,
    variants: Sequence[str] = DEMO_VARIANTS,
    seeds: int = DEMO_SEEDS,
    epochs: int = DEMO_EPOCHS,
    train_limit: int | None = DEMO_TRAIN,
    test_limit: int | None = DEMO_TEST,
    settings: MeasureSettings = DEMO_SETTINGS,
    accelerate_limit: int = 512,
) -> int:
    """Run the demo into ``out``; print the claims and, last, the path of the report.

    Args:
        out: output folder (the study's files, ``profile/`` and ``accelerate/``).
        limit: test images for the profile of the pretrained CNN (default: all 10,000).
        progress: print progress.
        variants, seeds, epochs, train_limit, test_limit, settings: the short study (the
            defaults take about 3 minutes on one free core).
        accelerate_limit: images that calibrate accelerate() (as many again are held out).

    Returns the exit status, 0.
    """
    offline()
    out = Path(out)
    t0 = time.perf_counter()
    with staged_out(out) as tmp:  # the whole demo, or nothing (paths printed are in tmp)
        if (out / "runs").is_dir():  # a copy: the study reuses runs finished before
            shutil.copytree(out / "runs", tmp / "runs")
        _say(progress, "1/3 profiling the pretrained MNIST CNN")
        run_profile(model_name="mnist-cnn", data_name="mnist", out=tmp / "profile", limit=limit,
                    inputs=True, progress=progress)
        _say(progress, "2/3 accelerating it (dead units pruned, sparse-input kernels, timed)")
        run_accelerate(model_name="mnist-cnn", data_name="mnist", out=tmp / "accelerate",
                       limit=accelerate_limit)
        _say(progress, f"3/3 a short study: {', '.join(variants)} x {seeds} seed(s), {epochs} "
                       f"epoch(s) on {train_limit or 'all'} MNIST training images")
        links = {"profile of the pretrained MNIST CNN": "profile/report.html",
                 "accelerate() on the pretrained MNIST CNN": "accelerate/accelerate.html"}
        study = run_study("mnist", seeds, epochs, tmp, variants=list(variants),
                          train_limit=train_limit, test_limit=test_limit, progress=progress,
                          settings=settings, links=links)
    print(claims_text(study))
    print(f"demo took {time.perf_counter() - t0:.0f} s; the full study: actsparse study "
          "--data mnist --seeds 3 --epochs 3 --out runs/study")
    print(f"report: {(out / 'report.html').resolve()}")
    return 0


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, flush=True)
