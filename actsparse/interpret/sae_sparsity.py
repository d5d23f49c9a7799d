"""How each sparse-autoencoder architecture picks its active latents from pre-activations.

All pickers take the pre-activations ``pre`` ``(B, n_latents)`` (no gradient) and return the
``(B, m)`` indices of the picked latents with their pre-activations, ``-inf`` where a row has
fewer than ``m`` picks (such a slot decodes to 0 and carries no gradient after the ReLU):

- TopK (Gao et al. 2024): the ``k`` largest of each row;
- BatchTopK (Bussmann et al. 2024): the ``k * B`` largest of the whole batch in training, so a
  row may use more or fewer than ``k``; at inference every latent above one global threshold
  (:func:`above`), so a vector's code does not depend on the rest of its batch;
- JumpReLU (Rajamanoharan et al. 2024): ``pre * H(pre - theta)`` with a learned threshold per
  latent. ``H`` has no useful gradient, so :class:`JumpReLU` and :class:`Step` pass a
  straight-through estimate to ``theta``: the rectangle-kernel density estimate
  ``-(theta / eps) * rect((pre - theta) / eps)`` (``-(1 / eps) * rect(...)`` for the step in the
  L0 penalty), ``eps`` the bandwidth. The pre-activations get the exact gradient
  ``H(pre - theta)`` from JumpReLU and none from the step.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

ARCHITECTURES = ("topk", "batchtopk", "jumprelu", "matryoshka")


def row_topk(pre: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` largest pre-activations of each row: ``(top, indices)``, each ``(B, k)``.

    Example:
        >>> row_topk(torch.tensor([[3.0, 1.0, 2.0]]), 2)[1].sort().values.tolist()
        [[0, 2]]
    """
    top, indices = pre.topk(k, dim=1, sorted=False)
    return top, indices


def batch_topk(pre: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """The ``k * B`` largest positive pre-activations of the batch, as ``(top, indices, low)``.

    ``top`` and ``indices`` are ``(B, m)``, ``m`` the most any row got, padded with ``-inf``;
    ``low`` is the smallest kept value (the batch's threshold; ``nan`` if none is positive).

    Example:
        >>> top, idx, low = batch_topk(torch.tensor([[5.0, 4.0, 0.1], [0.2, 0.3, 0.0]]), 1)
        >>> (top > 0).sum(1).tolist(), float(low)
        ([2, 0], 4.0)
    """
    flat = pre.reshape(-1)
    kept = flat.topk(min(k * pre.shape[0], flat.numel()), sorted=False).values
    kept = kept[kept > 0]
    low = kept.min() if kept.numel() else pre.new_tensor(float("nan"))
    top, indices = _padded(pre, pre >= low)  # nothing is >= nan
    return top, indices, low


def above(pre: Tensor, threshold: Tensor) -> tuple[Tensor, Tensor]:
    """Every pre-activation above ``threshold`` (a scalar or one per latent) and above 0.

    Example:
        >>> top, idx = above(torch.tensor([[0.5, 2.0, 3.0], [0.1, 0.0, 0.2]]), torch.tensor(1.0))
        >>> top.tolist(), idx[0].tolist()
        ([[3.0, 2.0], [-inf, -inf]], [2, 1])
    """
    return _padded(pre, (pre > threshold) & (pre > 0))


def _padded(pre: Tensor, keep: Tensor) -> tuple[Tensor, Tensor]:
    """The kept entries of each row, largest first, in ``(B, m)`` padded with ``-inf``."""
    width = max(1, int(keep.sum(1).max())) if keep.numel() else 1
    masked = pre.masked_fill(~keep, float("-inf"))
    top, indices = masked.topk(min(width, pre.shape[1]), dim=1)
    return top, indices


def _rect(u: Tensor) -> Tensor:
    return ((u > -0.5) & (u < 0.5)).to(u.dtype)


class JumpReLU(torch.autograd.Function):
    """``pre * H(pre - theta)``; ``theta`` ``(n_latents,)`` gets the kernel estimate."""

    @staticmethod
    def forward(ctx: Any, pre: Tensor, theta: Tensor, bandwidth: float) -> Tensor:
        ctx.save_for_backward(pre, theta)
        ctx.bandwidth = bandwidth
        return pre * (pre > theta).to(pre.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        pre, theta = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_pre = grad * (pre > theta).to(grad.dtype)
        grad_theta = (-(theta / eps) * _rect((pre - theta) / eps) * grad).sum(0)
        return grad_pre, grad_theta, None


class Step(torch.autograd.Function):
    """``H(pre - theta)``, for the L0 penalty; only ``theta`` gets a gradient."""

    @staticmethod
    def forward(ctx: Any, pre: Tensor, theta: Tensor, bandwidth: float) -> Tensor:
        ctx.save_for_backward(pre, theta)
        ctx.bandwidth = bandwidth
        return (pre > theta).to(pre.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        pre, theta = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_theta = (-(1.0 / eps) * _rect((pre - theta) / eps) * grad).sum(0)
        return None, grad_theta, None


def default_prefixes(n_latents: int) -> tuple[int, ...]:
    """Matryoshka prefix sizes: ``n/8, n/4, n/2, n`` (repeats and zeros dropped).

    Example:
        >>> default_prefixes(64), default_prefixes(3)
        ((8, 16, 32, 64), (1, 3))
    """
    sizes = {max(1, n_latents // d) for d in (8, 4, 2)} | {n_latents}
    return tuple(sorted(sizes))


def check_architecture(architecture: str, n_latents: int, prefixes: Any, l0_coef: float,
                       bandwidth: float) -> tuple[int, ...] | None:
    """Validate the architecture's arguments; return the Matryoshka prefixes (else None)."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; use one of: "
                         f"{', '.join(ARCHITECTURES)}")
    if not l0_coef >= 0:
        raise ValueError(f"l0_coef must be >= 0, got {l0_coef!r}")
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth!r}")
    if architecture != "matryoshka":
        if prefixes is not None:
            raise ValueError("prefixes are for architecture='matryoshka' only")
        return None
    sizes = tuple(int(p) for p in prefixes) if prefixes is not None else \
        default_prefixes(n_latents)
    if not sizes or list(sizes) != sorted(set(sizes)) or sizes[0] < 1 or \
            sizes[-1] != n_latents:
        raise ValueError(f"prefixes must be increasing sizes from 1 up to n_latents={n_latents} "
                         f"(the last one n_latents itself), got {list(sizes)}")
    return sizes
