"""The per-user split: deterministic by seed, disjoint, complete, in the asked proportions."""

from __future__ import annotations

import numpy as np
import torch

from actsparse.zoo.ratings import Ratings
from actsparse.zoo.ratings_split import interactions, split_per_user


def toy(seed: int = 0, users: int = 40, items: int = 60, n: int = 1500) -> Ratings:
    rng = np.random.default_rng(seed)
    return Ratings(rng.integers(0, users, n), rng.integers(0, items, n),
                   rng.integers(1, 6, n).astype(np.float32), users, items)


def test_same_seed_same_split_other_seed_other_split() -> None:
    data = toy()
    a, b, c = (split_per_user(data, seed=s) for s in (3, 3, 4))
    for part in ("train", "val", "test"):
        assert torch.equal(getattr(a, part), getattr(b, part))
    assert not torch.equal(a.test, c.test)


def test_parts_are_disjoint_and_cover_every_interaction() -> None:
    data = toy()
    s = split_per_user(data, val=0.1, test=0.2, seed=0)
    total = s.train + s.val + s.test
    assert total.max() == 1.0  # no interaction in two parts
    assert torch.equal(total, interactions(data))
    per_user = interactions(data).sum(1)
    assert torch.equal(s.test.sum(1), torch.round(0.2 * per_user).clamp(min=1))
    assert (s.val.sum(1) >= 1).all() and (s.train.sum(1) >= 1).all()
