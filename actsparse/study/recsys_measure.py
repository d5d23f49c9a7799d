"""Everything the recommender study measures on one finished run, cached in ``measure.json``.

For a finished ``actsparse train --model mult-dae`` run folder (its best-validation weights,
on the split its config gives), with the test users' input (train + validation):

- quality: the test ``ndcg@20``, ``recall@20`` (and @10) from ``metrics.json``, the baselines
  of the same split, and ``ndcg_vs_ease`` (NDCG@20 over EASE's);
- ``robustness``: NDCG@20 as a fraction ``p`` of random irrelevant items enters each history
  (:func:`actsparse.train.recsys_robust.run_robustness`, the model and EASE); ``drop_max`` is
  the relative drop at the largest ``p``, ``drop_mean`` its mean over the ``p > 0``;
- efficiency: the code's ``density`` (nonzero fraction of ``act1`` on the test users, the
  Profile of ``metrics.json``) and ``code_bytes``: every test user's code stored dense
  (float32) or sparse (CSR: int16 unit index + float32 value per nonzero, int32 row
  pointers), whichever is smaller, as a ``ratio`` of the dense bytes;
- ``selectivity``: Morcos et al.'s index of each unit over genres
  (:func:`actsparse.interpret.selectivity.class_selectivity`), from ``films`` (each film fed
  alone as a one-film history, once per genre it has: which genres the films that drive a
  unit belong to) and from ``users`` (each test user labelled by its most over-represented
  genre: the largest ``count - expected count`` of its items' genres);
- ``units``: the ``top_units`` most genre-selective units (films), each with its preferred
  genre and the titles of the (at most) ``top_films`` films that activate it most, with a
  positive value (:func:`actsparse.interpret.top_examples.top_examples` over the one-film
  histories);
- ``overlap`` (:class:`actsparse.interpret.overlap.ClassSampler`, every test user kept):
  ``own``: the Jaccard index of the active sets (``a != 0``) of two users, averaged over all
  pairs (``pairwise``), within and between the users' genre groups, and its chance level at
  that density; ``matched``: the same when each code keeps only its top ``matched_density``
  units (the dense code thresholded to the sparse codes' density).

Data without genres (a ratings file with no item file beside it) gets ``selectivity`` and
``units`` None and the overlap over all pairs only.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from actsparse._jsonio import write_json
from actsparse.interpret._observe import run_observers
from actsparse.interpret.code_overlap import Overlap
from actsparse.interpret.overlap import ClassSampler
from actsparse.interpret.selectivity import SelectivityState, class_selectivity
from actsparse.interpret.top_examples import top_examples
from actsparse.study.measurements import MEASURE_FILE, cached
from actsparse.study.recsys_claims import MATCHED_DENSITY
from actsparse.train.recsys_robust import PS, load_run, run_robustness
from actsparse.train.recsys_run import LAYER, RecsysConfig
from actsparse.zoo.ratings import load_ratings

VERSION = 1  # bump when a measurement changes meaning: cached files are then redone
QUALITY = ("ndcg@20", "recall@20", "ndcg@10", "recall@10")


@dataclass(frozen=True)
class RecsysMeasureSettings:
    """How a recommender run is measured (part of the cache key).

    Example:
        >>> RecsysMeasureSettings().ps, RecsysMeasureSettings().matched_density
        ((0.0, 0.1, 0.25, 0.5), 0.1)
    """

    ps: tuple[float, ...] = PS
    injection_seed: int = 0  # the same injected items for every model of a split
    matched_density: float = MATCHED_DENSITY
    top_units: int = 10
    top_films: int = 5
    seed: int = 0  # ties of the matched cut are broken at random with this seed

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))


def genre_matrix(genres: list[list[str]]) -> tuple[Tensor, list[str]]:
    """The 0/1 ``(items, genres)`` matrix of each item's genres, and the genre names (sorted).

    Example:
        >>> m, names = genre_matrix([["Drama"], ["Comedy", "Drama"], []])
        >>> names, m.tolist()
        (['Comedy', 'Drama'], [[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    """
    names = sorted({g for gs in genres for g in gs})
    col = {g: j for j, g in enumerate(names)}
    m = torch.zeros(len(genres), len(names))
    for i, gs in enumerate(genres):
        for g in gs:
            m[i, col[g]] = 1.0
    return m, names


def user_genre_labels(seen: Tensor, films: Tensor) -> Tensor:
    """Each user's most over-represented genre: the largest ``count - expected count``.

    ``count[u, g]`` is how many of user ``u``'s items (0/1 ``seen``, ``(U, I)``) have genre
    ``g`` (``films``, ``(I, G)``); the expected count spreads the user's genre counts as all
    users' are spread. Users with no genre at all get -1.

    Example:
        >>> seen = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
        >>> films = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
        >>> user_genre_labels(seen, films).tolist()
        [0, 1]
    """
    counts = seen @ films  # (U, G)
    base = counts.sum(0) / counts.sum().clamp_min(1)  # (G,) every user's genre shares
    excess = counts - counts.sum(1, keepdim=True) * base
    labels = excess.argmax(1)
    return torch.where(counts.sum(1) > 0, labels, torch.full_like(labels, -1))


def film_histories(films: Tensor) -> tuple[Tensor, Tensor]:
    """One-film histories ``(N, I)`` with a genre label ``(N,)``: a film once per genre.

    Example:
        >>> x, y = film_histories(torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
        >>> x.tolist(), y.tolist()
        ([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], [0, 0, 1])
    """
    item, genre = films.nonzero(as_tuple=True)
    x = torch.zeros(item.numel(), films.shape[0])
    x[torch.arange(item.numel()), item] = 1.0
    return x, genre


def measure_recsys_run(run: str | Path, config: RecsysConfig, metrics: dict[str, Any],
                       settings: RecsysMeasureSettings | None = None) -> dict[str, Any]:
    """Measure the finished run in folder ``run`` (module docstring); cache the result.

    Args:
        run: the run folder (``best.safetensors`` and ``metrics.json`` of ``config``).
        config: the run's config.
        metrics: its ``metrics.json``.
        settings: how to measure; the defaults are the study's.

    Returns the measurements (also written to ``run/measure.json``), reused when the cached
    file has the same config and settings.
    """
    settings = settings or RecsysMeasureSettings()
    key = json.loads(json.dumps({"version": VERSION, "config": asdict(config),
                                 "settings": settings.to_dict()}))
    found = cached(run, key)
    if found is not None:
        return found
    t0 = time.perf_counter()
    result: dict[str, Any] = {"key": key, "variant_spec": config.sparsity, "seed": config.seed}
    result.update({k: float(metrics[k]) for k in QUALITY})
    result["baselines"] = metrics["baselines"]
    ease = float(metrics["baselines"]["ease"]["ndcg@20"])
    result["ndcg_vs_ease"] = result["ndcg@20"] / ease if ease > 0 else None
    result["best_epoch"] = int(metrics["best_epoch"])
    result["train_seconds"] = float(metrics.get("seconds", 0.0))
    result["robustness"] = _robustness(run, settings)
    result["density"] = float(metrics["density"][LAYER])
    result["near_zero"] = float(metrics["near_zero"][LAYER]["0.01"])

    model, split, _ = load_run(run)
    data = load_ratings(config.data)
    seen = split.test_input()  # (U, I)
    users, hidden = seen.shape[0], model.hidden
    result["users"], result["hidden"] = users, hidden
    result["code_bytes"] = _code_bytes(result["density"], users, hidden)
    films = genre_matrix(data.genres) if any(data.genres) else None
    labels = (user_genre_labels(seen, films[0]) if films is not None
              else torch.arange(users) % 2)  # no genres: two arbitrary halves, pairs only
    sampler = ClassSampler(max(2, users), seed=settings.seed, keep_values=True)
    by_users = SelectivityState(len(films[1]) if films is not None else None)
    observers: list[Any] = [sampler] + ([by_users] if films is not None else [])
    run_observers(model, [(seen, labels)], observers, layers=[LAYER])
    own = sampler.overlaps()[LAYER]
    matched = sampler.density_curve(LAYER, [settings.matched_density])[0]
    result["overlap"] = {"own": _overlap(own, films is not None),
                         "matched": _overlap(matched, films is not None),
                         "matched_density": settings.matched_density}
    result["genres"] = films[1] if films is not None else []
    result["selectivity"], result["units"] = None, None
    if films is not None:
        result["selectivity"], result["units"] = _genres(
            model, films[0], films[1], by_users, data.titles, sampler.rates(LAYER), settings)
    result["threads"] = torch.get_num_threads()
    result["measure_seconds"] = time.perf_counter() - t0
    write_json(Path(run) / MEASURE_FILE, result, indent=1)
    return result


def _robustness(run: str | Path, settings: RecsysMeasureSettings) -> dict[str, Any]:
    found = run_robustness(run, settings.ps, settings.injection_seed, ease=True)
    model = found["model"]
    drops = [model[str(float(p))]["drop"] for p in settings.ps if p > 0]
    top = str(float(max(settings.ps)))
    return {"model": model, "ease": found["ease"], "drop_max": model[top]["drop"],
            "drop_mean": statistics.fmean(drops) if drops else None}


def _code_bytes(density: float, users: int, hidden: int) -> dict[str, Any]:
    """Bytes of the users' codes, dense float32 against CSR (the smaller is what is stored)."""
    nnz = round(density * users * hidden)
    index = 2 if hidden <= 2**15 else 4  # int16 unit indices where they fit
    dense, sparse = users * hidden * 4, nnz * (index + 4) + (users + 1) * 4
    stored = min(dense, sparse)
    return {"nonzeros": nnz, "dense": dense, "sparse": sparse, "stored": stored,
            "format": "sparse" if sparse < dense else "dense", "ratio": stored / dense}


def _overlap(o: Overlap, groups: bool) -> dict[str, Any]:
    d = o.to_dict()
    keep = {k: d[k] for k in ("pairwise", "density", "chance", "units")}
    if groups:  # within / between genre groups mean nothing for arbitrary halves
        keep.update(within=d["within"], between=d["between"])
    pairwise, chance = keep["pairwise"], keep["chance"]
    keep["pairwise_over_chance"] = pairwise / chance if pairwise is not None and chance else None
    return keep


def _genres(model: Any, films: Tensor, names: list[str], by_users: SelectivityState,
            titles: list[str], rates: Tensor, settings: RecsysMeasureSettings
            ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Genre selectivity from films and from users, and the most selective units' top films."""
    x, genre = film_histories(films)
    sel = class_selectivity(model, [(x, genre)], layers=[LAYER], num_classes=len(names))[LAYER]
    user_sel = by_users.compute()[LAYER]
    top = top_examples(model, [torch.eye(films.shape[0])], layers=[LAYER],
                       k=settings.top_films)[LAYER]
    keep = ("units", "fired_units", "mean_index", "median_index")
    out: dict[str, Any] = {}
    for name, s in (("films", sel), ("users", user_sel)):
        d = s.to_dict()
        out[name] = {k: d[k] for k in keep}
        out[name]["preferred"] = dict(zip(names, d["preferred_counts"], strict=True))
    index = torch.nan_to_num(sel.index, nan=-1.0)
    units = []
    for u in index.argsort(descending=True, stable=True)[:settings.top_units].tolist():
        if index[u] < 0:
            break
        picks = [int(s) for s, v in zip(top.samples[u].tolist(), top.values[u].tolist(),
                                        strict=True) if s >= 0 and v > 0]  # films that drive it
        units.append({"unit": u, "index": float(sel.index[u]),
                      "genre": names[int(sel.preferred[u])],
                      "active_users": float(rates[u]),
                      "films": [titles[i] if i < len(titles) else str(i) for i in picks],
                      "film_genres": [[names[g] for g in films[i].nonzero().flatten().tolist()]
                                      for i in picks]})
    return out, units
