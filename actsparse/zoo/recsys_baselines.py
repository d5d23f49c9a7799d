"""The baseline recommenders of the ratings protocol, tuned on validation and scored on test.

Most-popular has nothing to tune; ItemKNN's ``k`` and EASE's ``lambda`` are chosen on a small
grid by validation NDCG@20 (each model fitted on the train part); the chosen model is scored
on the test part, ranking from train + validation (:func:`~actsparse.zoo.recommenders.
evaluate_test`). On MovieLens-100K this takes a few seconds on two CPU cores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from actsparse.zoo.ratings_split import RatingsSplit
from actsparse.zoo.recommenders import (
    EASE,
    ItemKNN,
    Popular,
    Recommender,
    choose_on_validation,
    evaluate_test,
)

EASE_GRID = (10.0, 50.0, 100.0, 200.0, 500.0, 1000.0)
KNN_GRID = (20.0, 50.0, 100.0, 200.0, 400.0)


def tuned_baselines(
    split: RatingsSplit,
    ease_grid: Sequence[float] = EASE_GRID,
    knn_grid: Sequence[float] = KNN_GRID,
) -> dict[str, dict[str, float]]:
    """``{"ease": ..., "itemknn": ..., "popular": ...}``, each with test ``recall@10``,
    ``ndcg@10``, ``recall@20``, ``ndcg@20``; EASE and ItemKNN also give their chosen
    ``lambda`` / ``k`` and its ``validation_ndcg@20``.

    Example:
        >>> import numpy as np
        >>> from actsparse.zoo.ratings import Ratings
        >>> from actsparse.zoo.ratings_split import split_per_user
        >>> rng = np.random.default_rng(0)
        >>> r = Ratings(rng.integers(0, 30, 400), rng.integers(0, 20, 400), np.ones(400), 30, 20)
        >>> out = tuned_baselines(split_per_user(r), ease_grid=(1.0, 10.0), knn_grid=(5.0,))
        >>> sorted(out), out["itemknn"]["k"], 0.0 <= out["ease"]["ndcg@20"] <= 1.0
        (['ease', 'itemknn', 'popular'], 5.0, True)
    """
    results: dict[str, dict[str, float]] = {}
    results["ease"] = _tuned(EASE, ease_grid, "lambda", split)
    results["itemknn"] = _tuned(lambda v: ItemKNN(int(v)), knn_grid, "k", split)
    results["popular"] = evaluate_test(Popular().fit(split.train), split)
    return results


def _tuned(make: Callable[[float], Recommender], grid: Sequence[float], name: str,
           split: RatingsSplit) -> dict[str, float]:
    best, seen = choose_on_validation(make, grid, split)
    model = make(best).fit(split.train)
    return {**evaluate_test(model, split), name: float(best), "validation_ndcg@20": seen[best]}
