"""``run_study``: train every variant over the seeds, measure each run, write the results.

The study folder ``out`` gets ``runs/<variant>/seed<N>/`` (checkpoint, metrics.json,
measure.json per run), ``study.json`` (every number, the summaries, the claims) and
``report.html``. Seeds are ``0 .. seeds-1``, trained seed by seed (every variant of seed 0,
then seed 1, ...), so an interrupted study has whole seeds; a rerun reuses what is finished
(see :mod:`actsparse.study.runs`), so ``--seeds 5`` after ``--seeds 3`` trains only the two
new seeds, and more ``--epochs`` continue every run from its checkpoint.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from actsparse import zoo
from actsparse._jsonio import write_json
from actsparse._out_folder import staged_out
from actsparse.report.study_page import write_study_page
from actsparse.study.anchor import anchor_rows
from actsparse.study.claims import RULE, claims_table
from actsparse.study.measurements import MeasureSettings, measure_run
from actsparse.study.noise import white_value
from actsparse.study.recsys_claims import RECSYS_VARIANTS
from actsparse.study.recsys_measure import RecsysMeasureSettings
from actsparse.study.runs import ensure_run, run_config, run_dir
from actsparse.study.summary import (
    METRICS,
    Metric,
    curve_summary,
    layer_summaries,
    variant_summaries,
)
from actsparse.study.variants import (
    BASELINE,
    BATCH_SIZE,
    LR,
    LR_DECAY,
    MODEL,
    VARIANTS,
    Variant,
    select_variants,
)
from actsparse.zoo.ratings import is_ratings_name

DATASETS = ("mnist", "fashion-mnist", "digits")  # digits: 8x8 images, for quick tests
STUDY_FILE, REPORT_FILE = "study.json", "report.html"
FORMAT, VERSION = "actsparse.study", 1
DROP = ("key", "examples")  # per-run fields kept out of study.json's run list


def run_study(
    data: str,
    seeds: int,
    epochs: int,
    out: str | Path,
    *,
    variants: Sequence[str] | None = None,
    train_limit: int | None = None,
    test_limit: int | None = None,
    progress: bool = True,
    settings: MeasureSettings | RecsysMeasureSettings | None = None,
    links: dict[str, str] | None = None,
    reuse: str | Path | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Train and measure every variant x seed, then write ``study.json`` and ``report.html``.

    Ratings data (``movielens-100k``, ``movielens:PATH``) is the recommender study,
    :func:`actsparse.study.recsys_study.run_recsys_study` (its variants, metrics and claims;
    ``reuse`` a ``benchmarks.recsys_sparse`` runs folder, ``jobs`` runs trained in parallel);
    the rest of this docstring is the image study's.

    Args:
        data: ``mnist``, ``fashion-mnist`` (or ``digits``, tiny, for tests).
        seeds: how many seeds (0 .. seeds-1); 2 or more for confidence intervals.
        epochs: training epochs of every run.
        out: the study folder.
        variants: names from :data:`actsparse.study.variants.VARIANTS` (must include
            ``dense``); default: all that this version of ``actsparse.train`` can train.
        train_limit, test_limit: use only the first N training / test images.
        progress: print a line per run and show the training progress bars.
        settings: measurement settings (:class:`MeasureSettings`).
        links: ``{label: relative path}`` of other reports to link from the page.

    Returns the content of ``study.json``.
    """
    _check_counts(seeds, epochs)
    if is_ratings_name(data):
        _check_ratings(train_limit, test_limit, variants, settings)
        from actsparse.study.recsys_study import run_recsys_study

        assert settings is None or isinstance(settings, RecsysMeasureSettings)
        return run_recsys_study(data, seeds, epochs, out, variants=variants, reuse=reuse,
                                jobs=jobs, progress=progress, settings=settings, links=links)
    _check(data, seeds, epochs, train_limit, test_limit)
    if reuse is not None:
        raise ValueError(f"--reuse takes the run folders of benchmarks.recsys_sparse: it "
                         f"applies to ratings data (movielens-100k), not to {data!r}")
    if jobs != 1:
        raise ValueError(f"--jobs trains ratings runs in parallel; an image study trains its "
                         f"runs one after another (got jobs={jobs!r} for {data!r})")
    if isinstance(settings, RecsysMeasureSettings):
        raise ValueError(f"RecsysMeasureSettings are for ratings data, not {data!r}")
    _check_image_variants(variants)
    chosen, skipped = select_variants(variants)
    out = Path(out)
    settings = settings or MeasureSettings()
    white = _white(data)
    t0 = time.perf_counter()
    runs: dict[str, list[dict[str, Any]]] = {v.name: [] for v in chosen}
    examples: dict[str, dict[str, Any]] = {}
    total, done = seeds * len(chosen), 0
    bars = progress and sys.stdout.isatty()  # training bars only on a terminal
    if progress:
        for name, why in skipped.items():
            print(f"variant {name} left out: {why}")
    for seed in range(seeds):
        for v in chosen:
            t1 = time.perf_counter()
            cfg = run_config(data, v, seed, epochs, train_limit, test_limit)
            path = run_dir(out, v.name, seed)
            metrics, status = ensure_run(path, cfg, progress=bars)
            measured = measure_run(path, cfg, metrics, white=white, settings=settings)
            runs[v.name].append({k: x for k, x in measured.items() if k not in DROP})
            if seed == 0:
                examples[v.name] = measured.get("examples", {})
            done += 1
            if progress:
                print(f"[{done}/{total}] {v.name} seed {seed}: {status}; test accuracy "
                      f"{measured['test_accuracy']:.4f}, noise score {measured['noise_score']}"
                      f", density {measured['mean_density']:.3f} "
                      f"({time.perf_counter() - t1:.0f} s)", flush=True)
    study = build_study(data=data, seeds=seeds, epochs=epochs, variants=chosen,
                        skipped=skipped, runs=runs, white=white, train_limit=train_limit,
                        test_limit=test_limit, settings=settings)
    study["examples"] = {"images": _example_images(data, settings.example_images),
                         "maps": examples}
    study["links"] = dict(links or {})
    study["seconds"] = time.perf_counter() - t0
    write_study(study, out)
    if progress:
        print(f"wrote {out / STUDY_FILE} and {out / REPORT_FILE}")
    return study


def build_study(
    *, data: str, seeds: int, epochs: int, variants: Sequence[Variant], skipped: dict[str, str],
    runs: dict[str, list[dict[str, Any]]], white: float, train_limit: int | None,
    test_limit: int | None, settings: MeasureSettings,
) -> dict[str, Any]:
    """The ``study.json`` content from the measured runs: summaries, curves, claims, anchor."""
    summaries = variant_summaries(runs)
    sparse = [v.name for v in variants if v.sparse]
    claims = claims_table(summaries, sparse, BASELINE)
    noise_best = next((c["best"] for c in claims if c["claim"] == "noise"), None)
    return {
        "format": FORMAT,
        "version": VERSION,
        "data": data,
        "seeds": seeds,
        "epochs": epochs,
        "train_limit": train_limit,
        "test_limit": test_limit,
        "variants": [v.to_dict() for v in variants],
        "skipped_variants": skipped,
        "budget": {"model": MODEL, "optimizer": "Adam", "lr": LR, "lr_decay_per_epoch": LR_DECAY,
                   "batch_size": BATCH_SIZE, "epochs": epochs, "seeds": list(range(seeds))},
        "noise_protocol": {"levels": list(settings.noise_levels), "white": white,
                           "seed": settings.noise_seed,
                           "max_score": _max_score(runs, settings)},
        "settings": settings.to_dict(),
        "metrics": {m.name: {"label": m.label, "higher_better": m.higher_better}
                    for m in METRICS.values()},
        "summary": {v: {m: (s.to_dict() if s is not None else None) for m, s in ms.items()}
                    for v, ms in summaries.items()},
        "noise_curves": {v: [s.to_dict() for s in curve_summary(rs)] for v, rs in runs.items()},
        "layers": {v: {"density": _layers(rs, "density"),
                       "selectivity": _layers(rs, "selectivity", "mean_index"),
                       "overlap_between": _layers(rs, "overlap", "between"),
                       "overlap_within": _layers(rs, "overlap", "within"),
                       "overlap_chance": _layers(rs, "overlap", "chance")}
                   for v, rs in runs.items()},
        "claims": claims,
        "rule": RULE,
        "anchor": anchor_rows(runs, data, noise_best),
        "runs": runs,
        "machine": {"python": platform.python_version(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                    "processor": platform.processor() or platform.machine()},
    }


def write_study(study: dict[str, Any], out: str | Path,
                metrics: Mapping[str, Metric] | None = None) -> tuple[Path, Path]:
    """Write ``study.json`` and ``report.html`` into ``out`` (both, or neither when one fails).

    ``metrics`` is the study's metric table (default :data:`METRICS`, the image study's)."""
    out = Path(out)
    with staged_out(out) as tmp:
        write_json(tmp / STUDY_FILE, study, indent=1)
        write_study_page(study, tmp / REPORT_FILE, METRICS if metrics is None else metrics)
    return out / STUDY_FILE, out / REPORT_FILE


def _layers(runs: list[dict[str, Any]], section: str, key: str | None = None
            ) -> dict[str, Any]:
    return {layer: s.to_dict() for layer, s in layer_summaries(runs, section, key).items()}


def _max_score(runs: dict[str, list[dict[str, Any]]], settings: MeasureSettings) -> int | None:
    for rs in runs.values():
        for r in rs:
            return int(r["test_images"]) * len(settings.noise_levels)
    return None


def _white(data: str) -> float:
    if data == "mnist":
        return white_value(data)
    train = zoo.load_data(data, split="train")
    assert isinstance(train, zoo.ImageData)  # _check allows image data sets only
    return white_value(data, train.images)


def _example_images(data: str, n: int) -> list[Any]:
    test = zoo.load_data(data, split="test", limit=n)
    assert isinstance(test, zoo.ImageData)
    images = test.images  # (K, C, H, W) in [0, 1]
    return [[[round(float(v), 3) for v in row] for row in img[0]] for img in images]


def _check_counts(seeds: int, epochs: int) -> None:
    for name, value in (("seeds", seeds), ("epochs", epochs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")


def _check_ratings(train_limit: int | None, test_limit: int | None,
                   variants: Sequence[str] | None, settings: Any) -> None:
    """Refuse what makes no sense for a ratings study, in one line."""
    if train_limit is not None or test_limit is not None:
        raise ValueError("--train-limit and --test-limit cut image data; a ratings study "
                         "uses every user (each is split 80/10/10)")
    if isinstance(settings, MeasureSettings):
        raise ValueError("MeasureSettings are for image studies; a ratings study takes "
                         "RecsysMeasureSettings")
    image_only = [n for n in variants or [] if n in VARIANTS and n not in RECSYS_VARIANTS]
    if image_only:
        raise ValueError(f"variant(s) {', '.join(image_only)} are for image studies; a "
                         f"ratings study takes {', '.join(RECSYS_VARIANTS)}")


def _check_image_variants(variants: Sequence[str] | None) -> None:
    ratings_only = [n for n in variants or [] if n in RECSYS_VARIANTS and n not in VARIANTS]
    if ratings_only:
        raise ValueError(f"variant(s) {', '.join(ratings_only)} are for ratings studies "
                         f"(movielens-100k); an image study takes {', '.join(VARIANTS)}")


def _check(data: str, seeds: int, epochs: int, train_limit: int | None,
           test_limit: int | None) -> None:
    if data not in DATASETS:
        raise ValueError(f"unknown data {data!r} for a study; choose one of "
                         f"{', '.join(DATASETS)}, movielens-100k or movielens:PATH")
    _check_counts(seeds, epochs)
    for name, limit in (("train_limit", train_limit), ("test_limit", test_limit)):
        if limit is not None and (not isinstance(limit, int) or limit < 20):
            raise ValueError(f"{name} must be None (all) or a whole number >= 20, got "
                             f"{limit!r}")


