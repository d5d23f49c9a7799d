"""Baseline recommenders for the ratings protocol: most-popular, ItemKNN and EASE.

Each follows scikit-learn's shape: the constructor stores arguments, ``fit(X)`` learns from a
0/1 ``(users, items)`` matrix and returns ``self``, ``score(X)`` gives ``(users, items)``
scores for users described by their interactions ``X`` (the caller masks seen items).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import torch
from torch import Tensor

from actsparse.zoo.ratings_eval import ranking_metrics
from actsparse.zoo.ratings_split import RatingsSplit


class Recommender(Protocol):
    def fit(self, x: Tensor) -> Recommender: ...

    def score(self, x: Tensor) -> Tensor: ...


class Popular:
    """Every user gets the items with the most interactions in the training matrix.

    Example:
        >>> import torch
        >>> Popular().fit(torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])).score(torch.zeros(1, 3))
        tensor([[1., 2., 0.]])
    """

    def fit(self, x: Tensor) -> Popular:
        self.counts_ = x.sum(0)
        return self

    def score(self, x: Tensor) -> Tensor:
        return self.counts_.expand(x.shape[0], -1).clone()


class ItemKNN:
    """Item-based nearest neighbours: cosine similarity, the ``k`` nearest items kept per item.

    ``score(X) = X @ S`` with ``S[i, j]`` the cosine of items i and j (zero diagonal), each
    column ``j`` cut to its ``k`` largest entries.

    Example:
        >>> import torch
        >>> x = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        >>> ItemKNN(k=1).fit(x).score(torch.tensor([[1.0, 0.0, 0.0]]))
        tensor([[0., 1., 0.]])
    """

    def __init__(self, k: int = 100) -> None:
        self.k = k

    def fit(self, x: Tensor) -> ItemKNN:
        x = x.double()
        norms = x.norm(dim=0).clamp(min=1e-12)
        sim = (x.T @ x) / norms[:, None] / norms[None, :]  # (I, I)
        sim.fill_diagonal_(0.0)
        k = min(self.k, sim.shape[0])
        top = sim.topk(k, dim=0)  # the k nearest neighbours of each item j, in column j
        self.similarity_ = torch.zeros_like(sim).scatter_(0, top.indices, top.values).float()
        return self

    def score(self, x: Tensor) -> Tensor:
        return x.float() @ self.similarity_


class EASE:
    """Steck (2019): the item-item weights B minimising ``|X - XB|^2 + lam |B|^2``, diag(B) = 0.

    Closed form: ``P = (X^T X + lam I)^-1``, ``B = I - P diag(1 / diag(P))``, i.e.
    ``B[i, j] = -P[i, j] / P[j, j]`` off the diagonal.

    Example:
        >>> import torch
        >>> x = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
        >>> b = EASE(lam=1.0).fit(x).weights_
        >>> b.diagonal().tolist(), tuple(EASE(1.0).fit(x).score(x).shape)
        ([0.0, 0.0, 0.0], (3, 3))
    """

    def __init__(self, lam: float = 500.0) -> None:
        self.lam = lam

    def fit(self, x: Tensor) -> EASE:
        x = x.double()
        gram = x.T @ x  # (I, I)
        gram.diagonal().add_(self.lam)
        p = torch.linalg.inv(gram)
        b = -p / p.diagonal()[None, :]
        b.fill_diagonal_(0.0)
        self.weights_ = b.float()
        return self

    def score(self, x: Tensor) -> Tensor:
        return x.float() @ self.weights_


def choose_on_validation(make: Callable[[float], Recommender], grid: Sequence[float],
                         split: RatingsSplit, metric: str = "ndcg@20",
                         ) -> tuple[float, dict[float, float]]:
    """The grid value whose model, fitted on train, ranks validation best by ``metric``.

    Example:
        >>> import numpy as np
        >>> from actsparse.zoo.ratings import Ratings
        >>> from actsparse.zoo.ratings_split import split_per_user
        >>> rng = np.random.default_rng(0)
        >>> r = Ratings(rng.integers(0, 30, 400), rng.integers(0, 20, 400), np.ones(400), 30, 20)
        >>> best, seen = choose_on_validation(EASE, [1.0, 10.0], split_per_user(r))
        >>> best in seen, len(seen)
        (True, 2)
    """
    seen: dict[float, float] = {}
    for value in grid:
        model = make(value).fit(split.train)
        seen[value] = ranking_metrics(model.score(split.train), split.train, split.val)[metric]
    return max(seen, key=lambda v: seen[v]), seen


def evaluate_test(model: Recommender, split: RatingsSplit,
                 ks: tuple[int, ...] = (10, 20)) -> dict[str, float]:
    """Recall@K and NDCG@K on the test part, ranking from train + validation.

    Example:
        >>> import torch
        >>> s = RatingsSplit(torch.eye(3), torch.zeros(3, 3), torch.ones(3, 3) - torch.eye(3), 0)
        >>> evaluate_test(Popular().fit(s.train), s, ks=(2,))["recall@2"]
        1.0
    """
    seen = split.test_input()
    return ranking_metrics(model.score(seen), seen, split.test, ks)
