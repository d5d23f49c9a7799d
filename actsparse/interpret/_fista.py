"""Batched proximal gradient for the lasso: ISTA and FISTA (Beck & Teboulle 2009) on a Gram matrix.

Per sample the problem is ``min_z 0.5 * ||x - z D||^2 + alpha * ||z||_1``. Its gradient in ``z``
is ``z G - c`` with ``G = D D^T`` and ``c = x D^T``, so one step for a whole batch is one
``(n, k) @ (k, k)`` product:

    z <- soft(y - (y G - c) / L, alpha / L) = soft(y B + c / L, alpha / L),   B = I - G / L

where ``L`` is the largest eigenvalue of ``G`` (the gradient's Lipschitz constant). FISTA
extrapolates ``y = z + (t_old - 1) / t * (z - z_prev)`` and restarts a sample's momentum when
the step goes uphill (``(y - z) . (z - z_prev) > 0``, O'Donoghue & Candes 2015), which keeps the
fast rate on the flat, ill-conditioned problems that overcomplete dictionaries give. ISTA is
the same step without momentum.

Every ``polish_every`` iterations (0: never) the working samples go through
:func:`~actsparse.interpret._polish.polish`, which solves each exactly on its current support
and keeps the rows it certifies optimal.

A sample stops when it is certified optimal or when ``||z - z_prev|| <= tol * ||z||``; stopped
samples leave the working batch (so the products shrink as the batch converges).
"""

from __future__ import annotations

import torch
from torch import Tensor

from actsparse.interpret._polish import polish


def lipschitz(dictionary: Tensor) -> float:
    """Largest eigenvalue of ``D D^T`` (= squared spectral norm of ``D``), in float64.

    It is taken from the smaller of ``D D^T`` and ``D^T D``, which share their nonzero
    eigenvalues, so it stays cheap when either side of the dictionary is small.

    Example:
        >>> lipschitz(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
        4.0
    """
    d = dictionary.detach().to(torch.float64)
    gram = d @ d.T if d.shape[0] <= d.shape[1] else d.T @ d
    return float(torch.linalg.eigvalsh(gram)[-1].clamp_min(0.0))


def shrink(v: Tensor, threshold: float, positive: bool) -> Tensor:
    """Soft-threshold ``sign(v) * max(|v| - threshold, 0)``; ``max(v - threshold, 0)`` if positive.

    Example:
        >>> shrink(torch.tensor([-2.0, 0.5, 3.0]), 1.0, positive=False)
        tensor([-1.,  0.,  2.])
        >>> shrink(torch.tensor([-2.0, 0.5, 3.0]), 1.0, positive=True)
        tensor([0., 0., 2.])
    """
    if positive:
        return torch.relu(v - threshold)
    return torch.nn.functional.softshrink(v, threshold)  # one fused kernel


def proximal_gradient(
    cov: Tensor,
    gram: Tensor,
    alpha: float,
    lipschitz_constant: float,
    *,
    max_iter: int,
    tol: float,
    positive: bool,
    momentum: bool,
    polish_every: int = 10,
    max_support: int | None = None,
) -> tuple[Tensor, int, int]:
    """Solve the lasso for every row of ``cov = X D^T`` (n, k) given ``gram = D D^T`` (k, k).

    Returns the codes (n, k), the number of iterations the slowest sample took, and how many
    samples were still unconverged when ``max_iter`` stopped them (0: all converged).
    ``polish_every=0`` turns support polishing off (plain ISTA/FISTA iterates).

    Example:
        >>> d = torch.eye(2)
        >>> z, _, _ = proximal_gradient(torch.tensor([[3.0, -0.5]]), d, 1.0, 1.0, max_iter=10,
        ...                          tol=1e-6, positive=False, momentum=True)
        >>> z
        tensor([[2., 0.]])
    """
    n, k = cov.shape
    out = torch.zeros_like(cov)
    if n == 0 or lipschitz_constant <= 0.0:  # an all-zero dictionary: every code is 0
        return out, 0, 0
    inv_l = 1.0 / lipschitz_constant
    step = torch.eye(k, dtype=gram.dtype, device=gram.device) - gram * inv_l  # B = I - G/L
    bias = cov * inv_l  # (n, k)
    thr = alpha * inv_l
    rows = torch.arange(n, device=cov.device)  # which sample each working row is
    z = torch.zeros_like(cov)
    y = z
    t = torch.ones(n, 1, dtype=cov.dtype, device=cov.device)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (it is returned)
        z_new = shrink(torch.addmm(bias, y, step), thr, positive)  # (m, k)
        delta = z_new - z
        if momentum:
            uphill = ((y - z_new) * delta).sum(1, keepdim=True) > 0  # restart these samples
            t_new = 0.5 * (1.0 + torch.sqrt(1.0 + 4.0 * t * t))
            beta = torch.where(uphill, 0.0, (t - 1.0) / t_new)
            t = torch.where(uphill, 1.0, t_new)
            y = torch.addcmul(z_new, beta, delta)
        else:
            y = z_new
        z = z_new
        done = torch.linalg.vector_norm(delta, dim=1) <= tol * torch.linalg.vector_norm(z, dim=1)
        if polish_every and it % polish_every == 0:
            exact, ok = polish(z, cov, gram, alpha, positive, max_support=max_support)
            z = torch.where(ok[:, None], exact, z)
            done |= ok
        n_done = int(done.sum())
        if n_done == len(rows):
            out[rows] = z
            return out, it, 0
        if n_done:  # finished samples leave the working batch
            out[rows[done]] = z[done]
            keep = ~done
            rows, z, y, t, bias, cov = (rows[keep], z[keep], y[keep], t[keep], bias[keep],
                                        cov[keep])
    out[rows] = z
    return out, it, len(rows)
