"""inject_items: how many items it adds, which ones, and that a seed fixes them."""

from __future__ import annotations

import pytest
import torch

from actsparse.zoo.ratings_noise import inject_items


def history(users: int = 30, items: int = 50, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A random 0/1 input part and a disjoint 0/1 test part."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(users, items, generator=g)
    return (u < 0.2).float(), ((u >= 0.2) & (u < 0.3)).float()


@pytest.mark.parametrize("p", [0.0, 0.1, 0.25, 0.5, 1.0])
def test_adds_round_p_n_new_items_per_user_and_keeps_the_seen_ones(p: float) -> None:
    seen, test = history()
    noisy = inject_items(seen, p, seed=3, avoid=test)
    assert set(noisy.unique().tolist()) <= {0.0, 1.0}  # no duplicates: still 0/1
    assert bool((noisy[seen > 0] == 1).all())
    added = noisy - seen
    assert bool((added >= 0).all())
    expected = torch.round(p * seen.sum(1))
    assert torch.equal(added.sum(1), expected)
    assert float((added * test).sum()) == 0.0  # never a held-out item


def test_a_user_short_of_candidates_gets_every_one_of_them() -> None:
    seen = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0, 0.0]])
    avoid = torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0, 0.0]])
    assert inject_items(seen, 1.0, avoid=avoid).tolist() == [[1.0, 1.0, 1.0, 1.0, 0.0, 1.0]]


def test_the_seed_fixes_the_items_and_smaller_p_is_a_subset() -> None:
    seen, test = history()
    a = inject_items(seen, 0.5, seed=1, avoid=test)
    assert torch.equal(a, inject_items(seen, 0.5, seed=1, avoid=test))
    assert not torch.equal(a, inject_items(seen, 0.5, seed=2, avoid=test))
    small = inject_items(seen, 0.25, seed=1, avoid=test)
    assert bool((a >= small).all())


def test_the_items_are_spread_over_the_candidates() -> None:
    seen = torch.zeros(2000, 10)
    seen[:, :5] = 1.0
    counts = (inject_items(seen, 0.2, seed=0) - seen).sum(0)  # one of items 5..9 per user
    assert counts[:5].sum() == 0
    assert counts[5:].min() > 300 and counts[5:].max() < 500  # ~400 each


def test_bad_arguments_are_refused() -> None:
    seen, test = history()
    with pytest.raises(ValueError, match="p must be >= 0"):
        inject_items(seen, -0.1)
    with pytest.raises(ValueError, match="avoid has shape"):
        inject_items(seen, 0.1, avoid=test[:, :3])
    with pytest.raises(ValueError, match="users, items"):
        inject_items(seen[0], 0.1)
