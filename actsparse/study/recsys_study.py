"""``run_recsys_study``: the study on ratings data, with the image study's machinery.

``actsparse study --data movielens-100k`` trains every variant of
:data:`~actsparse.study.recsys_claims.RECSYS_VARIANTS` over the seeds (``actsparse train
--model mult-dae``, one run folder each, reused or resumed as the image study's are:
:func:`actsparse.study.runs.ensure_run`), measures each run
(:func:`~actsparse.study.recsys_measure.measure_recsys_run`) and writes ``study.json`` and
``report.html`` with the same claims table (:func:`actsparse.study.claims.claims_table`, the
recommender's claims and metrics, the same verdict rule).

``reuse``: a folder of run folders written by ``benchmarks.recsys_sparse --runs`` (named
``<spec with ':' as '_'>-seed<N>``); a finished run there with exactly the config asked for is
linked into the study folder (hard links where the file system allows, else copies) instead
of being trained again.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from actsparse.study.claims import RULE, claims_table
from actsparse.study.recsys_claims import (
    RECSYS_CLAIMS,
    RECSYS_METRICS,
    RECSYS_VARIANTS,
    recsys_spec_available,
)
from actsparse.study.recsys_measure import RecsysMeasureSettings, measure_recsys_run
from actsparse.study.runs import ensure_run, finished_metrics, run_dir
from actsparse.study.stats import Summary, summarize
from actsparse.study.summary import variant_summaries
from actsparse.study.variants import BASELINE, Variant, select_variants
from actsparse.train.recsys_run import BEST_FILE, RecsysConfig, train_recsys
from actsparse.train.run_metrics import METRICS_FILE

FORMAT, VERSION = "actsparse.study", 1
DROP = ("key", "units")  # per-run fields kept out of study.json's run list
RUN_FILES = (METRICS_FILE, BEST_FILE, "checkpoint.safetensors")
BASELINES = {"ease": "EASE", "itemknn": "ItemKNN", "popular": "most popular"}


def benchmark_run(folder: str | Path, spec: str, seed: int) -> Path:
    """The run folder ``benchmarks.recsys_sparse`` writes for ``spec`` and ``seed``.

    Example:
        >>> benchmark_run("runs", "kwta:0.1", 3).as_posix()
        'runs/kwta_0.1-seed3'
    """
    return Path(folder) / f"{spec.replace(':', '_')}-seed{seed}"


def adopt_run(path: str | Path, config: RecsysConfig, source: str | Path) -> bool:
    """Link the finished run ``source`` into ``path`` when it is exactly ``config``'s.

    Nothing is done (False) when ``path`` already holds that finished run or when ``source``
    does not; files are hard-linked where possible, else copied.

    Example:
        >>> import tempfile
        >>> adopt_run(tempfile.mkdtemp(), RecsysConfig(), "/nonexistent")
        False
    """
    path, source = Path(path), Path(source)
    if finished_metrics(path, config) is not None or finished_metrics(source, config) is None:
        return False
    if not (source / BEST_FILE).is_file():
        return False
    path.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:
        src, dst = source / name, path / name
        if not src.is_file():
            continue
        dst.unlink(missing_ok=True)
        try:
            os.link(src, dst)
        except OSError:  # another file system, or links not allowed
            shutil.copy2(src, dst)
    return True


def run_recsys_study(
    data: str,
    seeds: int,
    epochs: int,
    out: str | Path,
    *,
    variants: Sequence[str] | None = None,
    reuse: str | Path | None = None,
    jobs: int = 1,
    progress: bool = True,
    settings: RecsysMeasureSettings | None = None,
    links: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Train and measure every recommender variant x seed; write ``study.json``, ``report.html``.

    Args:
        data: ``movielens-100k`` or ``movielens:PATH``.
        seeds: how many seeds (0 .. seeds-1); each seed is its own split, initialisation and
            shuffling. 2 or more for confidence intervals.
        epochs: training epochs of every run (the best validation epoch is kept).
        out: the study folder.
        variants: names from :data:`RECSYS_VARIANTS` (must include ``dense``); default all.
        reuse: a ``benchmarks.recsys_sparse --runs`` folder whose finished runs are reused.
        jobs: runs trained in parallel processes, one torch thread each (1: in this process,
            one after another); the measurements follow, one run at a time.
        progress: print a line per run.
        settings: measurement settings (:class:`RecsysMeasureSettings`).
        links: ``{label: relative path}`` of other reports to link from the page.

    Returns the content of ``study.json``.
    """
    from actsparse.study.study import write_study

    chosen, skipped = select_variants(variants, table=RECSYS_VARIANTS,
                                      available=recsys_spec_available)
    out = Path(out)
    settings = settings or RecsysMeasureSettings()
    t0 = time.perf_counter()
    runs: dict[str, list[dict[str, Any]]] = {v.name: [] for v in chosen}
    units: dict[str, Any] = {}
    reused: list[str] = []
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a whole number >= 1, got {jobs!r}")
    total = seeds * len(chosen)
    bars = progress and sys.stdout.isatty() and jobs == 1
    plan = [(v, seed, RecsysConfig(data=data, sparsity=v.spec, seed=seed, epochs=epochs),
             run_dir(out, v.name, seed)) for seed in range(seeds) for v in chosen]
    if reuse is not None and not Path(reuse).is_dir():
        raise ValueError(f"--reuse {reuse}: no such folder (give the --runs folder of "
                         "benchmarks.recsys_sparse)")
    for v, seed, cfg, path in plan:
        if reuse is not None and adopt_run(path, cfg, benchmark_run(reuse, v.spec, seed)):
            reused.append(f"{v.name}/seed{seed}")
    if progress and reuse is not None:
        print(f"reused {len(reused)} run(s) from {reuse} (runs of other configs, or already "
              "in the study, are not taken)", flush=True)
    trained = _train_parallel([(cfg, path) for _, _, cfg, path in plan], jobs, progress)
    for done, (v, seed, cfg, path) in enumerate(plan, 1):
        # one run at a time: measure (and train what is left when jobs is 1)
        t1 = time.perf_counter()
        adopted = f"{v.name}/seed{seed}" in reused
        metrics, status = ensure_run(path, cfg, progress=bars, trainer=train_recsys)
        status = trained.get(path, status)
        measured = measure_recsys_run(path, cfg, metrics, settings)
        runs[v.name].append({k: x for k, x in measured.items() if k not in DROP})
        if seed == 0:
            units[v.name] = measured.get("units")
        if progress:
            print(f"[{done}/{total}] {v.name} seed {seed}: "
                  f"{'reused' if adopted else status}; NDCG@20 {measured['ndcg@20']:.4f}"
                  f", drop {measured['robustness']['drop_max']:.3f}, density "
                  f"{measured['density']:.3f} ({time.perf_counter() - t1:.0f} s)",
                  flush=True)
    study = build_recsys_study(data=data, seeds=seeds, epochs=epochs, variants=chosen,
                               skipped=skipped, runs=runs, settings=settings)
    study["units"] = units
    study["reused"] = {"folder": None if reuse is None else str(reuse), "runs": reused}
    study["links"] = dict(links or {})
    study["seconds"] = time.perf_counter() - t0
    study["page"] = recsys_page(study)
    write_study(study, out, RECSYS_METRICS)
    if progress:
        print(f"wrote {out / 'study.json'} and {out / 'report.html'}")
    return study


def _train_one(config: RecsysConfig, path: Path) -> str:
    """Train (or resume) one run on one torch thread; what was done (a worker's job)."""
    torch.set_num_threads(1)
    return ensure_run(path, config, trainer=train_recsys)[1]


def _train_parallel(runs: list[tuple[RecsysConfig, Path]], jobs: int, progress: bool
                    ) -> dict[Path, str]:
    """Train the unfinished ``runs`` in ``jobs`` processes (none when ``jobs`` is 1)."""
    todo = [(cfg, path) for cfg, path in runs if finished_metrics(path, cfg) is None]
    if jobs == 1 or not todo:
        return {}
    if progress:
        print(f"training {len(todo)} run(s) in {jobs} processes, one thread each", flush=True)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {path: pool.submit(_train_one, cfg, path) for cfg, path in todo}
        return {path: f.result() for path, f in futures.items()}


def build_recsys_study(
    *, data: str, seeds: int, epochs: int, variants: Sequence[Variant],
    skipped: dict[str, str], runs: dict[str, list[dict[str, Any]]],
    settings: RecsysMeasureSettings,
) -> dict[str, Any]:
    """The ``study.json`` content from the measured runs: summaries, curves and the claims."""
    summaries = variant_summaries(runs, RECSYS_METRICS)
    sparse = [v.name for v in variants if v.sparse]
    claims = claims_table(summaries, sparse, BASELINE, claims=RECSYS_CLAIMS,
                          metrics=RECSYS_METRICS)
    config = RecsysConfig()
    first = next((rs[0] for rs in runs.values() if rs), {})
    return {
        "format": FORMAT,
        "version": VERSION,
        "kind": "recsys",
        "data": data,
        "seeds": seeds,
        "epochs": epochs,
        "variants": [v.to_dict() for v in variants],
        "skipped_variants": skipped,
        "budget": {"model": f"mult-dae [I-{config.hidden}-I], tanh code act1, input dropout "
                            f"{config.input_dropout}", "optimizer": "Adam", "lr": config.lr,
                   "batch_size": config.batch_size, "epochs": epochs,
                   "seeds": list(range(seeds))},
        "protocol": "implicit feedback (every rating), per-user random 80/10/10 split by "
                    "seed, best validation NDCG@20 epoch kept, test ranks all items not in "
                    "train + validation; baselines tuned on validation on the same split",
        "settings": settings.to_dict(),
        "genres": first.get("genres", []),
        "metrics": {m.name: {"label": m.label, "higher_better": m.higher_better}
                    for m in RECSYS_METRICS.values()},
        "summary": {v: {m: (s.to_dict() if s is not None else None) for m, s in ms.items()}
                    for v, ms in summaries.items()},
        "baselines": _baselines(runs),
        "robustness_curves": _curves(runs, settings.ps),
        "claims": claims,
        "rule": RULE,
        "runs": runs,
        "machine": {"python": platform.python_version(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                    "processor": platform.processor() or platform.machine()},
    }


def _summary(values: list[float | None]) -> dict[str, Any] | None:
    xs = [float(x) for x in values if x is not None]
    return summarize(xs).to_dict() if xs else None


def _baselines(runs: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """Each baseline's test NDCG@20 and Recall@20 over the seeds (from the dense runs)."""
    rs = runs.get(BASELINE) or next(iter(runs.values()), [])
    return {name: {k: _summary([r["baselines"].get(name, {}).get(k) for r in rs])
                   for k in ("ndcg@20", "recall@20")} for name in BASELINES}


def _curves(runs: Mapping[str, Sequence[Mapping[str, Any]]], ps: Sequence[float]
            ) -> dict[str, Any]:
    """Per variant (and EASE, from the dense runs), NDCG@20 and its drop at each p."""
    out: dict[str, Any] = {}
    sources = [(v, rs, "model") for v, rs in runs.items()]
    sources.append(("ease", runs.get(BASELINE) or [], "ease"))
    for name, rs, part in sources:
        rows = [r["robustness"][part] for r in rs]
        out[name] = {str(float(p)): {k: _summary([row[str(float(p))][k] for row in rows])
                                     for k in ("ndcg@20", "drop")} for p in ps}
    return out


# ---- the page's tables ------------------------------------------------------------------------

def _text(d: Mapping[str, Any] | None, digits: int = 3) -> str:
    if d is None:
        return "-"
    return Summary(**d).text(digits)


def recsys_page(study: Mapping[str, Any]) -> dict[str, Any]:
    """What the study page shows for a recommender study: columns, tables and the method."""
    names = [v["name"] for v in study.get("variants", [])]
    summary = study.get("summary", {})
    curves = study.get("robustness_curves", {})
    ps = list(next(iter(curves.values()), {}))
    tables = [
        {"title": "Baselines", "header": ["model", "test NDCG@20", "test Recall@20"],
         "rows": [[label, _text(study["baselines"][k]["ndcg@20"], 4),
                   _text(study["baselines"][k]["recall@20"], 4)]
                  for k, label in BASELINES.items()],
         "note": "Measured on each seed's split in the same run as the models (tuned on "
                 "validation)."},
        {"title": "Robustness to irrelevant items",
         "header": ["model", *[f"NDCG@20 / drop, p = {p}" for p in ps]],
         "rows": [[v, *[f"{_text(curves[v][p]['ndcg@20'], 4)} / {_text(curves[v][p]['drop'])}"
                        for p in ps]] for v in [*names, "ease"] if v in curves],
         "note": "A fraction p of random unseen, non-test items is added to each test user's "
                 "history; drop = 1 - NDCG@20(p) / NDCG@20(0), per seed."},
        {"title": "Overlap of users' codes",
         "header": ["variant", "density", "Jaccard of two users", "between genre groups",
                    "within genre groups", "top-10% Jaccard", "top-10% / chance"],
         "rows": [[v, *[_text(summary[v].get(m)) for m in (
             "density", "overlap_users", "overlap_between_genres")],
                   _within(study, v),
                   *[_text(summary[v].get(m)) for m in (
                       "overlap_matched", "overlap_matched_vs_chance")]] for v in names],
         "note": "Active set: the units with a nonzero value. Users are grouped by their most "
                 "over-represented genre. Top 10%: each code cut to its user's largest 10% of "
                 "values (the dense code thresholded to the sparse codes' density); chance is "
                 "the Jaccard of random codes of that size."},
        {"title": "Genre-selective units and their films",
         "header": ["variant", "unit", "selectivity", "genre", "active for users",
                    "films that drive it most"],
         "rows": [[v, str(u["unit"]), f"{u['index']:.3f}", u["genre"],
                   f"{u['active_users']:.1%}", "; ".join(u["films"])]
                  for v in names for u in ((study.get("units") or {}).get(v) or [])[:5]],
         "note": "Seed 0 of each variant, the 5 units with the largest genre selectivity over "
                 "films (Morcos et al.'s index over genres, each film fed alone as a one-film "
                 "history, once per genre it has); the films are those with the largest "
                 "positive value of the unit."},
    ]
    return {
        "result_metrics": ["ndcg@20", "ndcg_vs_ease", "drop_max", "density", "code_bytes_ratio",
                           "genre_selectivity", "genre_selectivity_users", "overlap_users",
                           "overlap_matched"],
        "run_columns": ["ndcg@20", "drop_max", "density", "genre_selectivity"],
        "tables": tables,
        "method": [
            ["Protocol", str(study.get("protocol", ""))],
            ["Robustness", "Per test user, round(p * n) random items that are neither in its "
                           "input nor in its test part are added to the input (seed "
                           f"{study['settings']['injection_seed']}, the same items for every "
                           "model of a split); the injected items are excluded from the "
                           "ranking like seen ones. The claim's figure is the drop at the "
                           "largest p."],
            ["Memory", "Every test user's code stored dense (float32) or as CSR (int16 unit "
                       "index and float32 value per nonzero, int32 row pointers), whichever "
                       "is smaller, over the dense bytes."],
            ["Selectivity", "Morcos et al. (2018) index per unit over genres, from the "
                            "positive part of the code, averaged over the units that fired; "
                            "'films': each film alone as input, labelled with each of its "
                            "genres; 'users': each test user labelled with its most "
                            "over-represented genre."],
            ["Statistics", "Mean over seeds and 95% confidence interval mean ± t(0.975, n-1) "
                           "sd / sqrt(n) (Student t); one seed gives no interval."],
            ["Budget", "Every variant: the same Mult-DAE, optimizer, learning rate, batch size, "
                       "epochs and seeds; only the --sparsity spec on act1 differs. Dropout is "
                       "a control (dense at inference), not a sparse variant."],
        ],
    }


def _within(study: Mapping[str, Any], variant: str) -> str:
    values = [((r.get("overlap") or {}).get("own") or {}).get("within")
              for r in study.get("runs", {}).get(variant, [])]
    return _text(_summary(values))
