"""The tuned baselines: chosen on validation, scored on test, the same as fitting by hand."""

from __future__ import annotations

import numpy as np
import pytest

from actsparse.zoo.ratings import Ratings
from actsparse.zoo.ratings_split import RatingsSplit, split_per_user
from actsparse.zoo.recommenders import EASE, ItemKNN, choose_on_validation, evaluate_test
from actsparse.zoo.recsys_baselines import tuned_baselines


def _split() -> RatingsSplit:
    rng = np.random.default_rng(1)
    users = rng.integers(0, 60, 1500)
    items = (users % 3) * 10 + rng.integers(0, 10, 1500)  # three groups of users and items
    return split_per_user(Ratings(users, items, np.ones(1500, np.float32), 60, 30), seed=0)


def test_each_baseline_is_its_validation_choice_scored_on_test() -> None:
    split = _split()
    out = tuned_baselines(split, ease_grid=(1.0, 30.0, 1000.0), knn_grid=(2.0, 20.0))
    assert sorted(out) == ["ease", "itemknn", "popular"]
    for row in out.values():
        assert {"recall@10", "ndcg@10", "recall@20", "ndcg@20"} <= set(row)
    lam, seen = choose_on_validation(EASE, (1.0, 30.0, 1000.0), split)
    assert out["ease"]["lambda"] == lam and out["ease"]["validation_ndcg@20"] == seen[lam]
    assert out["ease"]["ndcg@20"] == pytest.approx(
        evaluate_test(EASE(lam).fit(split.train), split)["ndcg@20"])
    k = int(out["itemknn"]["k"])
    assert out["itemknn"]["ndcg@20"] == pytest.approx(
        evaluate_test(ItemKNN(k).fit(split.train), split)["ndcg@20"])
    assert out["ease"]["ndcg@20"] > out["popular"]["ndcg@20"]  # the groups are learnable
