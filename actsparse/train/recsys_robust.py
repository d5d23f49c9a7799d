"""Robustness of a recommender to irrelevant interactions: NDCG@20 as noise enters the history.

Each test user's input (train + validation) gets a fraction ``p`` of random unseen items that
are not among its test items (:func:`~actsparse.zoo.ratings_noise.inject_items`, one seed for
every ``p``); the model ranks from that noisy input, the injected items excluded from the
ranking as seen ones are. Reported per ``p``: ``ndcg@20``, ``recall@20`` and ``drop``, the
relative fall of NDCG@20 from ``p = 0`` (``1 - ndcg(p) / ndcg(0)``).

:func:`run_robustness` evaluates a finished ``actsparse train --model mult-dae`` run folder
(its ``best.safetensors``, on the split its config gives) and EASE fitted on the same train
part with the ``lambda`` the run chose on validation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch import Tensor

from actsparse.train.mult_dae import MultDAE
from actsparse.train.recsys_run import BEST_FILE, RecsysConfig, _load_weights, build_mult_dae
from actsparse.zoo.ratings import load_ratings
from actsparse.zoo.ratings_eval import ranking_metrics
from actsparse.zoo.ratings_noise import inject_items
from actsparse.zoo.ratings_split import RatingsSplit, split_per_user
from actsparse.zoo.recommenders import EASE

PS = (0.0, 0.1, 0.25, 0.5)


def robustness(score: Callable[[Tensor], Tensor], split: RatingsSplit,
               ps: Sequence[float] = PS, seed: int = 0) -> dict[str, dict[str, float]]:
    """``{str(p): {"ndcg@20", "recall@20", "drop"}}`` for ``score`` under injection (notes).

    Example:
        >>> import torch
        >>> s = RatingsSplit(torch.eye(4)[[0, 0, 1, 1]] + torch.eye(4)[[1, 1, 0, 0]],
        ...                  torch.zeros(4, 4), torch.eye(4)[[2, 2, 3, 3]], 0)
        >>> out = robustness(lambda x: x @ torch.ones(4, 4), s, ps=(0.0, 0.5))
        >>> sorted(out), out["0.0"]["drop"]
        (['0.0', '0.5'], 0.0)
    """
    if 0.0 not in ps:
        raise ValueError(f"ps must contain 0 (the reference of the drop), got {list(ps)}")
    clean = split.test_input()
    out: dict[str, dict[str, float]] = {}
    for p in ps:
        noisy = inject_items(clean, p, seed=seed, avoid=split.test)
        m = ranking_metrics(score(noisy), noisy, split.test, ks=(20,))
        out[str(float(p))] = {"ndcg@20": m["ndcg@20"], "recall@20": m["recall@20"]}
    ref = out["0.0"]["ndcg@20"]
    for row in out.values():
        row["drop"] = 1.0 - row["ndcg@20"] / ref if ref > 0 else float("nan")
    return out


def load_run(folder: str | Path) -> tuple[MultDAE, RatingsSplit, dict[str, Any]]:
    """The best-epoch model of a finished mult-dae run folder, its split and its metrics.json.

    Example:
        >>> load_run("/nonexistent")
        Traceback (most recent call last):
        ...
        FileNotFoundError: /nonexistent/metrics.json: not a finished mult-dae run folder
    """
    folder = Path(folder)
    path = folder / "metrics.json"
    if not path.is_file() or not (folder / BEST_FILE).is_file():
        raise FileNotFoundError(f"{path}: not a finished mult-dae run folder")
    metrics: dict[str, Any] = json.loads(path.read_text())
    config = RecsysConfig(**metrics["config"])
    spec = config.check()
    split = split_per_user(load_ratings(config.data), val=config.val, test=config.test,
                           seed=config.seed)
    model = build_mult_dae(split.num_items, spec, config.hidden, config.input_dropout)
    _load_weights(folder / BEST_FILE, model)
    model.eval()
    return model, split, metrics


def run_robustness(folder: str | Path, ps: Sequence[float] = PS, seed: int = 0,
                   ease: bool = True) -> dict[str, Any]:
    """:func:`robustness` of a run folder's model (``"model"``) and of EASE (``"ease"``).

    Example:
        >>> run_robustness("/nonexistent")
        Traceback (most recent call last):
        ...
        FileNotFoundError: /nonexistent/metrics.json: not a finished mult-dae run folder
    """
    model, split, metrics = load_run(folder)
    out: dict[str, Any] = {"sparsity": metrics["sparsity"], "seed": metrics["config"]["seed"],
                           "model": robustness(model.score, split, ps, seed)}
    if ease:
        lam = float(metrics["baselines"]["ease"]["lambda"])
        fitted = EASE(lam).fit(split.train)
        out["ease"] = {"lambda": lam, **robustness(fitted.score, split, ps, seed)}
    return out
