"""Sparsity measures as pure tensor functions.

Each function reduces over ``dim`` (default: the last) and returns one value per remaining
position. Formulas and references are in the docstrings. All-zero vectors are treated as
maximally sparse (Hoyer 1, Gini 1, Treves-Rolls 0, density 0), so a dead layer reads as sparse
rather than as NaN.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "density",
    "near_zero_fraction",
    "hoyer",
    "hoyer_from_norms",
    "gini",
    "gini_from_histogram",
    "treves_rolls",
    "treves_rolls_from_norms",
    "kurtosis",
    "union_density",
]


def _real(x: Tensor) -> Tensor:
    """float64 stays float64 (tiny values survive); everything else computes in float32."""
    return x if x.dtype == torch.float64 else x.float()


def _unit_scaled(x: Tensor, dim: int) -> Tensor:
    """``x / max|x|`` along ``dim`` (where that is finite and > 0): ratios of norms are scale
    invariant, but squares of values below ~1e-19 underflow float32 (and 1e-154 float64)."""
    if x.numel() == 0:
        return x
    top = x.abs().amax(dim, keepdim=True)
    return x / torch.where(torch.isfinite(top) & (top > 0), top, torch.ones_like(top))


def density(x: Tensor, dim: int = -1, threshold: float = 0.0) -> Tensor:
    """Fraction of entries with ``|x| > threshold`` (``threshold=0``: fraction ``!= 0``).

    Example:
        >>> density(torch.tensor([0.0, 2.0, 0.0, -1.0]))
        tensor(0.5000)
    """
    return (x.abs() > threshold).float().mean(dim) if threshold > 0 else (x != 0).float().mean(dim)


def near_zero_fraction(x: Tensor, eps: float, dim: int = -1) -> Tensor:
    """Fraction of entries with ``|x| < eps``: soft sparsity, e.g. of GELU or SiLU outputs.

    Example:
        >>> near_zero_fraction(torch.tensor([0.0, 1e-4, 0.5, -2.0]), eps=1e-2)
        tensor(0.5000)
    """
    return (x.abs() < eps).float().mean(dim)


def hoyer_from_norms(l1: Tensor, l2: Tensor, n: int) -> Tensor:
    """Hoyer sparsity from the L1 and L2 norms of vectors of length ``n`` (see :func:`hoyer`).

    Example:
        >>> hoyer_from_norms(torch.tensor([1.0]), torch.tensor([1.0]), n=4)
        tensor([1.])
    """
    if n < 2:
        return torch.ones_like(l1)
    root = math.sqrt(n)
    ratio = torch.where(l2 > 0, l1 / l2.clamp_min(torch.finfo(l2.dtype).tiny), torch.ones_like(l1))
    ratio = torch.where(torch.isnan(l1) | torch.isnan(l2), torch.nan, ratio)  # NaN in, NaN out
    return ((root - ratio) / (root - 1)).clamp(0.0, 1.0)


def hoyer(x: Tensor, dim: int = -1) -> Tensor:
    """Hoyer sparsity ``(sqrt(n) - ||x||_1 / ||x||_2) / (sqrt(n) - 1)`` in [0, 1].

    1 for a one-hot vector (and for an all-zero one), 0 for a vector of equal magnitudes, NaN
    where ``x`` holds a NaN; unchanged by scaling, down to the smallest subnormals. Hoyer (2004),
    "Non-negative matrix factorization with sparseness constraints", JMLR 5, eq. 1.

    Example:
        >>> hoyer(torch.tensor([0.0, 0.0, 3.0, 0.0]))
        tensor(1.)
        >>> hoyer(torch.ones(4))
        tensor(0.)
    """
    x = _unit_scaled(_real(x), dim)
    return hoyer_from_norms(x.abs().sum(dim), x.norm(dim=dim), x.shape[dim])


def gini(x: Tensor, dim: int = -1) -> Tensor:
    """Gini index of ``|x|``: ``1 - 2 sum_k c_(k)/||c||_1 * (N - k + 1/2)/N``, c sorted ascending.

    In [0, 1 - 1/N] (1 for an all-zero vector, NaN where ``x`` holds a NaN); unchanged by
    scaling; grows when mass moves to fewer entries. Hurley &
    Rickard (2009), "Comparing measures of sparsity", IEEE Trans. Inf. Theory 55(10), eq. for G.

    Example:
        >>> gini(torch.tensor([0.0, 0.0, 0.0, 5.0]))
        tensor(0.7500)
        >>> gini(torch.ones(3))
        tensor(0.)
    """
    c = _real(x).abs().movedim(dim, -1).sort(dim=-1).values
    n = c.shape[-1]
    k = torch.arange(1, n + 1, dtype=c.dtype)
    total = c.sum(-1, keepdim=True)
    weights = (n - k + 0.5) / n
    g = 1 - 2 * (c / total.clamp_min(torch.finfo(c.dtype).tiny) * weights).sum(-1)
    total = total.squeeze(-1)
    return torch.where(torch.isnan(total), torch.nan, torch.where(total > 0, g, torch.ones_like(g)))


def gini_from_histogram(counts: Tensor, values: Tensor) -> float:
    """Gini index of a multiset given as ``counts[j]`` copies of ``values[j]`` (sorted ascending).

    Equal to :func:`gini` of the expanded vector; used to read the Gini index of a whole layer
    from its fixed-bin magnitude histogram. 1.0 when every value is 0; NaN for no values at all
    (a layer whose activations were all NaN, which the histogram leaves out).

    Example:
        >>> round(gini_from_histogram(torch.tensor([3, 1]), torch.tensor([0.0, 5.0])), 4)
        0.75
    """
    counts = counts.double()
    values = values.double()
    n = counts.sum()
    mass = counts * values
    total = mass.sum()
    if n <= 0:
        return float("nan")
    if total <= 0:
        return 1.0
    # Sum over ranks k of (N - k + 1/2) for the ranks a bin occupies, in closed form.
    rank_end = counts.cumsum(0)
    rank_start = rank_end - counts  # ranks rank_start+1 .. rank_end
    rank_sum = counts * (n + 0.5) - (rank_end * (rank_end + 1) - rank_start * (rank_start + 1)) / 2
    return float(1 - 2 * (values * rank_sum).sum() / (total * n))


def treves_rolls_from_norms(l1: Tensor, l2sq: Tensor, n: int) -> Tensor:
    """Treves-Rolls activity ratio from ``sum |x|`` and ``sum x^2`` over ``n`` entries.

    Example:
        >>> treves_rolls_from_norms(torch.tensor([2.0]), torch.tensor([2.0]), n=4)
        tensor([0.5000])
    """
    # (l1 / n)^2 / (l2sq / n) as (l1 / sqrt(l2sq))^2 / n: no square of a tiny mean underflows
    root = l2sq.sqrt()
    ratio = l1 / torch.where(root > 0, root, torch.ones_like(root))
    a = torch.where(root > 0, ratio * ratio / n, torch.zeros_like(l1))
    return torch.where(torch.isnan(l1) | torch.isnan(l2sq), torch.nan, a)


def treves_rolls(x: Tensor, dim: int = -1) -> Tensor:
    """Treves-Rolls activity ratio ``(mean |x|)^2 / mean(x^2)`` in (0, 1]: low means sparse.

    ``1/N`` for a one-hot vector, 1 for equal magnitudes, 0 for all zeros, NaN where ``x`` holds
    a NaN; unchanged by scaling, down to the smallest subnormals. Treves & Rolls (1991), "What
    determines the capacity of autoassociative memories in the brain?", Network 2, eq. 8;
    Vinje & Gallant (2000) use ``1 - a`` as population sparseness.

    Example:
        >>> treves_rolls(torch.tensor([0.0, 0.0, 0.0, 2.0]))
        tensor(0.2500)
    """
    x = _unit_scaled(_real(x), dim)
    return treves_rolls_from_norms(x.abs().sum(dim), (x * x).sum(dim), x.shape[dim])


def kurtosis(x: Tensor, dim: int = -1) -> Tensor:
    """Excess kurtosis ``E[(x - mu)^4] / sigma^4 - 3`` (Fisher, biased) as ``scipy.stats.kurtosis``.

    Heavy tails (a few large activations among many small ones) give large positive values.

    Example:
        >>> round(float(kurtosis(torch.tensor([0.0, 0.0, 0.0, 0.0, 10.0]))), 3)
        0.25
    """
    x = x.double()
    centred = x - x.mean(dim, keepdim=True)
    m2 = (centred**2).mean(dim)
    m4 = (centred**4).mean(dim)
    return torch.where(m2 > 0, m4 / m2.clamp_min(1e-300) ** 2 - 3, torch.zeros_like(m2)).float()


def union_density(active: Tensor, group: int) -> Tensor:
    """Density of the union of active entries over groups of ``group`` consecutive rows.

    ``active`` is (N, D) boolean; a trailing incomplete group is ignored. This is the density a
    batched sparse kernel sees when it reads weights for any input active in the batch.

    Example:
        >>> a = torch.tensor([[1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]]).bool()
        >>> union_density(a, 2)
        tensor(0.3750)
    """
    n_groups = active.shape[0] // group
    if n_groups == 0:
        return torch.tensor(float("nan"))
    grouped = active[: n_groups * group].reshape(n_groups, group, -1)
    return grouped.any(1).float().mean()
