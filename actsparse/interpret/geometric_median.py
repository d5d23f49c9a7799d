"""The geometric median of a point cloud, by Weiszfeld's algorithm, batched over leading dims.

The geometric median minimises the sum of Euclidean distances ``sum_i w_i ||x_i - y||``. Unlike
the mean, a few far outliers barely move it, which is why a sparse autoencoder's input bias is
started there (Bricken et al. 2023; Gao et al. 2024). Weiszfeld's iteration is a reweighted
mean, each point weighted by ``w_i / ||x_i - y||``; distances are clamped at ``eps`` so that an
iterate landing on a data point stays finite.
"""

from __future__ import annotations

import torch
from torch import Tensor


def geometric_median(
    points: Tensor,
    weights: Tensor | None = None,
    *,
    max_iter: int = 200,
    tol: float = 1e-7,
    eps: float = 1e-8,
) -> Tensor:
    """The geometric median of ``points`` ``(..., n, d)``: a ``(..., d)`` tensor.

    Leading dimensions are independent problems solved together. Iteration stops when no
    median moves by more than ``tol`` times its scale (or after ``max_iter`` steps).

    Args:
        points: ``(n, d)`` or ``(..., n, d)`` floating-point points.
        weights: optional non-negative ``(..., n)`` weights (default: all 1).
        max_iter: the most Weiszfeld steps.
        tol: relative change at which to stop.
        eps: smallest distance used in the weights.

    Example:
        >>> pts = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [100.0, 100.0]])
        >>> geometric_median(pts).round(decimals=2).tolist()  # the outlier barely pulls it
        [0.5, 0.5]
        >>> pts.mean(0).tolist()
        [25.25, 25.25]
    """
    if not isinstance(points, Tensor) or not points.is_floating_point():
        raise TypeError("points must be a floating-point tensor of shape (..., n, d)")
    if points.dim() < 2 or points.shape[-2] == 0:
        raise ValueError(f"points must have shape (..., n, d) with n >= 1, got "
                         f"{tuple(points.shape)}")
    if weights is None:
        weights = torch.ones(points.shape[:-1], dtype=points.dtype, device=points.device)
    elif weights.shape != points.shape[:-1]:
        raise ValueError(f"weights must have shape {tuple(points.shape[:-1])}, got "
                         f"{tuple(weights.shape)}")
    elif bool((weights < 0).any()) or not bool((weights.sum(-1) > 0).all()):
        raise ValueError("weights must be non-negative with a positive sum")
    weights = weights.to(points.dtype)
    median = _weighted_mean(points, weights)  # (..., d)
    spread = points.std(dim=-2, correction=0).norm(dim=-1)  # (...,): sets the scale of tol
    for _ in range(max_iter):
        dist = (points - median.unsqueeze(-2)).norm(dim=-1).clamp_min(eps)  # (..., n)
        updated = _weighted_mean(points, weights / dist)
        moved = (updated - median).norm(dim=-1)
        scale = updated.norm(dim=-1) + spread + eps
        median = updated
        if bool((moved <= tol * scale).all()):
            break
    return median


def _weighted_mean(points: Tensor, weights: Tensor) -> Tensor:
    w = weights.unsqueeze(-1)  # (..., n, 1)
    return (points * w).sum(-2) / w.sum(-2)
