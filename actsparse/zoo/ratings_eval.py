"""Top-N metrics over all unseen items: Recall@K (Liang et al. 2018) and NDCG@K.

For a user with held-out items T and the top-K ranked items r_1..r_K (items of the input part
excluded from the ranking):

- Recall@K = |{r_i in T}| / min(K, |T|), so that a perfect ranking scores 1;
- NDCG@K = DCG / IDCG, DCG = sum_i [r_i in T] / log2(i + 1), IDCG the DCG of min(K, |T|) hits.

Both are averaged over the users with at least one held-out item.
"""

from __future__ import annotations

import torch
from torch import Tensor


def top_n(scores: Tensor, exclude: Tensor, k: int) -> Tensor:
    """The ``k`` best items per user, ``exclude``'s non-zero entries never chosen: ``(U, k)``.

    Example:
        >>> import torch
        >>> top_n(torch.tensor([[0.9, 0.5, 0.7]]), torch.tensor([[1.0, 0.0, 0.0]]), 2).tolist()
        [[2, 1]]
    """
    masked = scores.float().masked_fill(exclude > 0, float("-inf"))
    return masked.topk(min(k, scores.shape[1]), dim=1).indices


def ranking_metrics(scores: Tensor, exclude: Tensor, target: Tensor,
                    ks: tuple[int, ...] = (10, 20)) -> dict[str, float]:
    """``recall@K`` and ``ndcg@K`` for each K, averaged over users with a target item.

    Example:
        >>> import torch
        >>> scores = torch.tensor([[0.9, 0.8, 0.7, 0.1]])
        >>> target = torch.tensor([[0.0, 1.0, 0.0, 1.0]])
        >>> m = ranking_metrics(scores, torch.zeros(1, 4), target, ks=(2,))
        >>> round(m["recall@2"], 4), round(m["ndcg@2"], 4)  # hit at rank 2 of 2 relevant
        (0.5, 0.3869)
    """
    has = target.sum(1) > 0
    scores, exclude, target = scores[has], exclude[has], target[has]
    ranked = top_n(scores, exclude, max(ks))
    hits = target.gather(1, ranked).float()  # (U, Kmax), 1 where the i-th item is held out
    n_rel = target.sum(1)
    discount = 1.0 / torch.log2(torch.arange(2, ranked.shape[1] + 2, dtype=torch.float32))
    ideal_dcg = torch.cumsum(discount, 0)  # the DCG of n hits at the top, at index n - 1
    out: dict[str, float] = {}
    for k in ks:
        cap = n_rel.clamp(max=k)
        ideal = ideal_dcg[(cap - 1).long().clamp(max=ranked.shape[1] - 1)]
        out[f"recall@{k}"] = float((hits[:, :k].sum(1) / cap).mean())
        out[f"ndcg@{k}"] = float(((hits[:, :k] * discount[:k]).sum(1) / ideal).mean())
    return out
