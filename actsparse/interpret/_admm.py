"""Batched ADMM for the lasso with one cached factorisation (Boyd et al. 2011, section 6.4).

Split ``z = w`` and alternate, for the whole batch at once:

    z <- (c + rho (w - u)) M          M = (G + rho I)^{-1}, computed once, (k, k)
    w <- soft(z + u, alpha / rho)      (relu(z + u - alpha / rho) for positive codes)
    u <- u + z - w

``w`` is sparse from the first iteration, and because ``M`` inverts the whole Gram matrix the
rate does not suffer from the few large eigenvalues that coherent dictionaries (for example
atoms that are all non-negative images) put in ``G``; there proximal gradient, bound to a step
``1 / lambda_max``, needs hundreds of iterations to find the support. Over-relaxation
(``z <- relax z + (1 - relax) w_prev`` before the shrink, Eckstein & Bertsekas 1992) and a
penalty ``rho`` that grows with the sparsity of the problem (:func:`default_rho`) cut the
iterations further.

A sample stops when it is certified optimal by :func:`~actsparse.interpret._polish.polish`
(run every ``polish_every`` iterations), or when both ``||w - w_prev||`` and the primal residual
``||z - w||`` are at most ``tol * ||w||``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from actsparse.interpret._polish import polish


def default_rho(cov: Tensor, gram: Tensor, alpha: float) -> float:
    """A penalty that tracks how sparse the codes will be (tuned on digits and MNIST).

    ``rho = 12 * mean(diag G) * alpha / mean_i max_j |c_ij|``, kept within
    ``[0.05, 20] * mean(diag G)``: sparse problems (alpha near the largest correlation) want a
    large ``rho``, dense ones a small one. Scaling ``X`` and ``alpha`` together leaves it
    unchanged, as it should (the iterates then just scale).

    Example:
        >>> default_rho(torch.tensor([[2.0, 1.0]]), torch.eye(2), 0.1)
        0.6
    """
    scale = float(torch.diagonal(gram).mean())
    peak = float(cov.abs().amax(1).mean()) if cov.numel() else 0.0
    ratio = alpha / peak if peak > 0 else 1.0
    return scale * min(max(12.0 * ratio, 0.05), 20.0)


def admm(
    cov: Tensor,
    gram: Tensor,
    alpha: float,
    *,
    max_iter: int,
    tol: float,
    positive: bool,
    rho: float | None = None,
    relax: float = 1.6,
    polish_every: int = 5,
    polish_start: int = 15,
    max_support: int | None = None,
    polish_kw: dict[str, int] | None = None,
) -> tuple[Tensor, int]:
    """Solve the lasso for every row of ``cov = X D^T`` (n, k) given ``gram = D D^T`` (k, k).

    Returns the (sparse) codes and the number of iterations the slowest sample took.
    ``relax`` is the over-relaxation factor (1: plain ADMM; 1.5-1.8 is usually faster).
    Convergence is checked, and the batch polished, every ``polish_every`` iterations from
    iteration ``polish_start`` on (``polish_every=0``: no polishing, convergence checked every
    iteration). ``polish_kw`` goes to :func:`~actsparse.interpret._polish.polish`.

    Example:
        >>> z, _ = admm(torch.tensor([[3.0, -0.5]]), torch.eye(2), 1.0, max_iter=50,
        ...             tol=1e-6, positive=False)
        >>> z
        tensor([[2., 0.]])
    """
    n, k = cov.shape
    out = torch.zeros_like(cov)
    if n == 0:
        return out, 0
    if rho is None:
        rho = default_rho(cov, gram, alpha)
    if not rho > 0:  # an all-zero dictionary: every code is 0
        return out, 0
    eye = torch.eye(k, dtype=gram.dtype, device=gram.device)
    inv = torch.cholesky_inverse(torch.linalg.cholesky(gram + rho * eye))  # M, (k, k)
    base = relax * (cov @ inv)  # relax * c M, (n, k)
    thr = alpha / rho
    check = polish_every or 1
    rows = torch.arange(n, device=cov.device)
    # preallocated buffers: (n, k) temporaries are large enough that fresh allocations would
    # cost page faults on every iteration
    w, u, v, p = (torch.zeros_like(cov) for _ in range(4))
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (it is returned)
        checking = not (it % check or it < polish_start) or it == max_iter
        if checking:
            w_old, u_old = w.clone(), u.clone()
        # v = relax * z + (1 - relax) * w + u   with   z = c M + rho (w - u) M
        torch.sub(w, u, out=p)
        torch.add(base, u, out=v).add_(w, alpha=1.0 - relax).addmm_(p, inv, alpha=relax * rho)
        # w = shrink(v) and u = v - w, where v - shrink(v) is v clamped to the threshold
        if positive:
            torch.clamp(v, max=thr, out=u)
        else:
            torch.clamp(v, -thr, thr, out=u)
        torch.sub(v, u, out=w)
        if not checking:
            continue
        z = (v - u_old - (1.0 - relax) * w_old) / relax  # ADMM's z-update
        w_norm = torch.linalg.vector_norm(w, dim=1)
        done = (torch.linalg.vector_norm(w - w_old, dim=1) <= tol * w_norm) & (
            torch.linalg.vector_norm(z - w, dim=1) <= tol * w_norm)
        if polish_every:
            exact, ok = polish(w, cov, gram, alpha, positive, max_support=max_support,
                               **(polish_kw or {}))
            w = torch.where(ok[:, None], exact, w)
            done |= ok
        n_done = int(done.sum())
        if n_done == len(rows):
            break
        if n_done:  # finished samples leave the working batch
            out[rows[done]] = w[done]
            keep = (~done).nonzero().squeeze(1)
            rows, w, u, base, cov = (t.index_select(0, keep) for t in (rows, w, u, base, cov))
            v, p = torch.empty_like(w), torch.empty_like(w)
    out[rows] = w
    return out, it
