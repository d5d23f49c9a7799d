"""The recommender protocol's split: per user, a seeded random hold-out for validation and test.

Protocol (implicit top-N recommendation; the split is RecBole's default, "RO_RS 8:1:1"):

1. Every rating counts as an interaction, whatever its value (implicit feedback, 0/1).
2. Each user's interactions are shuffled with a generator seeded by ``seed`` and cut into
   80% train, 10% validation, 10% test (rounded; a user with at least 3 interactions keeps at
   least one in each part). Every user appears in all three parts: weak generalisation.
3. Validation ranks from the train part; test ranks from train + validation (the model is
   fitted on train, its hyper-parameters chosen on validation). Items in the input part are
   excluded, every other item is ranked (no sampled negatives); see
   :mod:`actsparse.zoo.ratings_eval` for the metrics.

The parts are dense 0/1 ``(users, items)`` float32 matrices: 6 MB for ml-100k, 90 MB for ml-1m.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from actsparse.zoo.ratings import Ratings


@dataclass
class RatingsSplit:
    """Disjoint 0/1 interaction matrices ``(users, items)`` of the three parts.

    Example:
        >>> import torch
        >>> s = RatingsSplit(torch.eye(2), torch.zeros(2, 2), torch.zeros(2, 2), 0)
        >>> tuple(s.test_input().shape), s.num_items
        ((2, 2), 2)
    """

    train: Tensor
    val: Tensor
    test: Tensor
    seed: int

    @property
    def num_items(self) -> int:
        return int(self.train.shape[1])

    def test_input(self) -> Tensor:
        """What a model sees of each user when ranking for the test part: train + validation."""
        return self.train + self.val


def interactions(data: Ratings) -> Tensor:
    """The 0/1 ``(users, items)`` matrix of every rating (repeated ratings count once).

    Example:
        >>> import numpy as np
        >>> r = Ratings(np.array([0, 1, 1]), np.array([1, 0, 0]), np.ones(3), 2, 2)
        >>> interactions(r).tolist()
        [[0.0, 1.0], [1.0, 0.0]]
    """
    x = torch.zeros(data.num_users, data.num_items)
    x[torch.as_tensor(data.users), torch.as_tensor(data.items)] = 1.0
    return x


def split_per_user(data: Ratings, val: float = 0.1, test: float = 0.1,
                   seed: int = 0) -> RatingsSplit:
    """Hold out ``val`` and ``test`` fractions of each user's interactions (module docstring).

    Example:
        >>> import numpy as np
        >>> r = Ratings(np.zeros(10, dtype=np.int64), np.arange(10), np.ones(10), 1, 10)
        >>> s = split_per_user(r, seed=0)
        >>> int(s.train.sum()), int(s.val.sum()), int(s.test.sum())
        (8, 1, 1)
    """
    if val < 0 or test < 0 or val + test >= 1:
        raise ValueError(f"val and test must be >= 0 with val + test < 1, got {val}, {test}")
    x = interactions(data).numpy()
    rng = np.random.default_rng(seed)
    parts = [np.zeros_like(x) for _ in range(3)]
    for u in range(x.shape[0]):
        items = rng.permutation(np.flatnonzero(x[u]))
        n = len(items)
        n_test, n_val = round(test * n), round(val * n)
        if n >= 3:  # each part keeps at least one interaction where the user has enough
            n_test, n_val = max(n_test, int(test > 0)), max(n_val, int(val > 0))
        parts[2][u, items[:n_test]] = 1.0
        parts[1][u, items[n_test:n_test + n_val]] = 1.0
        parts[0][u, items[n_test + n_val:]] = 1.0
    train, val_part, test_part = (torch.from_numpy(p) for p in parts)
    return RatingsSplit(train, val_part, test_part, seed)
