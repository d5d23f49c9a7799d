"""Baselines: EASE's closed form against least squares, ItemKNN's neighbours, the tuning."""

from __future__ import annotations

import numpy as np
import torch

from actsparse.zoo.ratings import Ratings
from actsparse.zoo.ratings_split import split_per_user
from actsparse.zoo.recommenders import EASE, ItemKNN, Popular, choose_on_validation, evaluate_test


def test_ease_closed_form_equals_constrained_least_squares() -> None:
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(12, 5, generator=gen) < 0.4).double()
    lam = 2.0
    b = EASE(lam).fit(x).weights_.double()
    # Column j: ridge regression of X[:, j] on the other columns (diag(B) = 0 by construction).
    for j in range(5):
        others = [i for i in range(5) if i != j]
        a = x[:, others]
        w = torch.linalg.solve(a.T @ a + lam * torch.eye(4, dtype=torch.float64), a.T @ x[:, j])
        torch.testing.assert_close(b[others, j], w, rtol=1e-4, atol=1e-5)
        assert b[j, j] == 0.0


def test_itemknn_keeps_k_neighbours_per_item() -> None:
    x = (torch.rand(30, 8, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    sim = ItemKNN(k=3).fit(x).similarity_
    assert ((sim > 0).sum(0) <= 3).all() and sim.diagonal().abs().sum() == 0
    norms = x.norm(dim=0)
    full = (x.T @ x) / norms[:, None] / norms[None, :]
    j = 0
    kept = sim[:, j].nonzero().flatten()
    others = full[:, j].clone()
    others[j] = -1
    assert set(kept.tolist()) == set(others.topk(3).indices.tolist())


def test_ease_beats_popular_on_structured_data_and_tuning_picks_from_grid() -> None:
    # Two groups of users, each interacting with its own half of the items.
    rng = np.random.default_rng(0)
    users = rng.integers(0, 60, 1500)
    items = (users % 2) * 20 + rng.integers(0, 20, 1500)
    data = Ratings(users, items, np.ones(1500, dtype=np.float32), 60, 40)
    split = split_per_user(data, seed=0)
    best, seen = choose_on_validation(EASE, [1.0, 50.0], split)
    assert best in (1.0, 50.0) and seen[best] == max(seen.values())
    ease = evaluate_test(EASE(best).fit(split.train), split)
    popular = evaluate_test(Popular().fit(split.train), split)
    assert ease["ndcg@10"] > popular["ndcg@10"]
