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

import os
import time
from pathlib import Path

from actsparse.study.measure import MeasureSettings

DEMO_VARIANTS = ("dense", "l1", "kwta")
DEMO_SEEDS, DEMO_EPOCHS = 3, 1
DEMO_TRAIN, DEMO_TEST = 20000, 1000  # one epoch: ~96% test accuracy; ~100 test images a class
DEMO_SETTINGS = MeasureSettings(per_class=50, latency_images=150, calibration_images=500)


def run_demo(out: str | Path = "runs/demo", *, limit: int | None = None,
             progress: bool = True) -> int:
    """Run the demo into ``out``; print the claims and the path of the report; exit status 0.

    Args:
        out: output folder (the study's files, ``profile/`` and ``accelerate/``).
        limit: test images for the profile of the pretrained CNN (default: all 10,000).
        progress: print progress.
    """
    from actsparse.cli import run_profile
    from actsparse.exploit.accelerate_cli import run_accelerate
    from actsparse.study.cli import claims_text
    from actsparse.study.study import run_study

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = Path(out)
    t0 = time.perf_counter()
    _say(progress, "1/3 profiling the pretrained MNIST CNN")
    run_profile(model_name="mnist-cnn", data_name="mnist", out=out / "profile", limit=limit,
                inputs=True, progress=progress)
    _say(progress, "2/3 accelerating it (dead units pruned, sparse-input kernels, timed)")
    run_accelerate(model_name="mnist-cnn", data_name="mnist", out=out / "accelerate",
                   limit=512)
    _say(progress, f"3/3 a short study: {', '.join(DEMO_VARIANTS)} x {DEMO_SEEDS} seeds, "
                   f"{DEMO_EPOCHS} epoch on {DEMO_TRAIN} MNIST images")
    links = {"profile of the pretrained MNIST CNN": "profile/report.html",
             "accelerate() on the pretrained MNIST CNN": "accelerate/accelerate.html"}
    study = run_study("mnist", DEMO_SEEDS, DEMO_EPOCHS, out, variants=list(DEMO_VARIANTS),
                      train_limit=DEMO_TRAIN, test_limit=DEMO_TEST, progress=progress,
                      settings=DEMO_SETTINGS, links=links)
    print(claims_text(study))
    print(f"demo took {time.perf_counter() - t0:.0f} s; the full study: actsparse study "
          "--data mnist --seeds 3 --epochs 3 --out runs/study")
    print(f"report: {(out / 'report.html').resolve()}")
    return 0


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, flush=True)
