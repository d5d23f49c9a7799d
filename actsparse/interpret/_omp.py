"""Batched orthogonal matching pursuit on a Gram matrix (Rubinstein et al. 2008, "Batch-OMP").

Every sample of the batch moves in lock-step: at step ``s`` each one picks the atom with the
largest ``|correlation with its residual|``, the Cholesky factor of its selected Gram block
grows by one row (a batched triangular solve), and its coefficients on the selected atoms are
the least-squares solution from two more triangular solves. The residual correlations are then
``c - z G`` for the whole batch at once.

A sample stops early, as scikit-learn's ``orthogonal_mp_gram`` does, when its residual is
orthogonal to every atom or when the next atom lies in the span of those already chosen; from
then on it takes dummy steps (identity row in the factor, zero right-hand side) that leave its
coefficients unchanged, so the batch keeps one shape.
"""

from __future__ import annotations

import torch
from torch import Tensor


def batch_omp(cov: Tensor, gram: Tensor, n_nonzero_coefs: int) -> Tensor:
    """Codes (n, k) with at most ``n_nonzero_coefs`` nonzeros per row, from ``cov = X D^T``.

    Example:
        >>> cov = torch.tensor([[3.0, 0.5, -2.0]])
        >>> batch_omp(cov, torch.eye(3), 2)
        tensor([[ 3.,  0., -2.]])
    """
    n, k = cov.shape
    steps = n_nonzero_coefs
    eps = torch.finfo(cov.dtype).eps
    chol = torch.zeros(n, steps, steps, dtype=cov.dtype, device=cov.device)  # (n, T, T)
    idx = torch.zeros(n, steps, dtype=torch.long, device=cov.device)  # selected atoms
    valid = torch.zeros(n, steps, dtype=torch.bool, device=cov.device)  # real (not dummy) steps
    done = torch.zeros(n, dtype=torch.bool, device=cov.device)
    diag = torch.diagonal(gram)
    corr_floor = 10 * eps * cov.abs().amax(1)  # (n,) a correlation below this is zero
    codes = torch.zeros_like(cov)
    resid = cov  # correlations of the residual with every atom, (n, k)
    for s in range(steps):
        scores = resid.abs()
        if s:
            scores.scatter_(1, idx[:, :s], -1.0)  # never pick an atom twice
        best, j = scores.max(1)  # (n,)
        done |= best <= corr_floor
        g_jj = diag[j]
        if s:
            g = gram[idx[:, :s], j[:, None]]  # (n, s) Gram between chosen atoms and the new one
            w = torch.linalg.solve_triangular(chol[:, :s, :s], g[..., None], upper=False)[..., 0]
            d2 = g_jj - (w * w).sum(1)
        else:
            w = cov.new_zeros(n, 0)
            d2 = g_jj
        done |= d2 <= 100 * eps * g_jj  # the new atom is (numerically) in the chosen span
        chol[:, s, :s] = torch.where(done[:, None], 0.0, w)
        chol[:, s, s] = torch.where(done, 1.0, torch.sqrt(d2.clamp_min(eps)))
        idx[:, s] = j
        valid[:, s] = ~done
        rhs = torch.where(valid[:, : s + 1], cov.gather(1, idx[:, : s + 1]), 0.0)  # (n, s+1)
        lower = chol[:, : s + 1, : s + 1]
        half = torch.linalg.solve_triangular(lower, rhs[..., None], upper=False)
        coef = torch.linalg.solve_triangular(lower.mT, half, upper=True)[..., 0]  # (n, s+1)
        codes = torch.zeros_like(cov).scatter_add_(1, idx[:, : s + 1], coef)
        if bool(done.all()):
            break
        resid = torch.addmm(cov, codes, gram, alpha=-1.0)  # c - z G
    return codes
