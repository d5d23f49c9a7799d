"""Irrelevant interactions for the robustness test: random unseen items added to each history.

For each user with ``n`` items in the input part, ``round(p * n)`` items are added, drawn
uniformly without replacement from the items that are neither in the input nor in ``avoid``
(the held-out test items, so that an injected item is never a relevant one and the targets
stay rankable). A user with fewer candidates gets all of them. The draw depends only on
``seed``: for one seed the items injected at a smaller ``p`` are a subset of those at a larger
``p`` (each user's candidates are taken in one seeded random order).
"""

from __future__ import annotations

import torch
from torch import Tensor


def inject_items(seen: Tensor, p: float, seed: int = 0, avoid: Tensor | None = None) -> Tensor:
    """``seen`` (0/1 ``(U, I)``) plus, per user, ``round(p * n_seen)`` random unseen items.

    Example:
        >>> import torch
        >>> seen = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]])
        >>> noisy = inject_items(seen, 0.5, seed=0)
        >>> int(noisy.sum()), bool((noisy >= seen).all()), noisy[0, :4].tolist()
        (6, True, [1.0, 1.0, 1.0, 1.0])
    """
    if p < 0:
        raise ValueError(f"p must be >= 0, got {p}")
    if seen.dim() != 2:
        raise ValueError(f"seen must be (users, items), got shape {tuple(seen.shape)}")
    taken = seen > 0
    if avoid is not None:
        if avoid.shape != seen.shape:
            raise ValueError(f"avoid has shape {tuple(avoid.shape)}, seen {tuple(seen.shape)}")
        taken = taken | (avoid > 0)
    n_add = torch.round(p * (seen > 0).sum(1).double()).long()  # (U,)
    n_add = torch.minimum(n_add, (~taken).sum(1))
    generator = torch.Generator().manual_seed(seed)
    keys = torch.rand(seen.shape, generator=generator)  # (U, I), a random order per user
    keys = keys.masked_fill(taken, 2.0)  # taken items sort last
    rank = keys.argsort(dim=1).argsort(dim=1)  # (U, I), each item's place in that order
    added = rank < n_add[:, None]
    return torch.where(added, torch.ones_like(seen), seen)
