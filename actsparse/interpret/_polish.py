"""Finish a lasso batch exactly: solve on each sample's support, certify with the KKT conditions.

Given a sign vector ``s`` and support ``S``, the lasso restricted to them has the closed form
``z_S = G_SS^{-1} (c_S - alpha s_S)`` (a small Cholesky solve per sample; all samples go
together, their supports padded to one size with dummy unit atoms). That ``z`` is *the* lasso
solution exactly when the KKT conditions hold:

    (c - z G)_S = alpha s_S, sign(z_S) = s_S   and   |c_j - (z G)_j| <= alpha  for j not in S
    (positive codes:  z_S > 0                 and    c_j - (z G)_j  <= alpha)

Iterative solvers find the support long before they converge in value, so :func:`polish`
starts from an iterate's support and signs and takes a few active-set rounds (drop the atoms
whose sign came out wrong, add the ``grow`` atoms that violate the KKT conditions most, with the
sign of their residual correlation). Rows that end certified are exact up to rounding; the
others are left to the iterative solver.
"""

from __future__ import annotations

import torch
from torch import Tensor


def kkt_slack(cov: Tensor, alpha: float) -> Tensor:
    """Rounding slack (n,) for the KKT checks, relative to each row's largest ``|c_j|``.

    Example:
        >>> kkt_slack(torch.tensor([[2.0, -3.0]], dtype=torch.float64), 1.0)
        tensor([4.0000e-09], dtype=torch.float64)
    """
    rel = 1e-9 if cov.dtype == torch.float64 else 1e-4
    return rel * (cov.abs().amax(1) + alpha)


def solve_on_support(support: Tensor, sign: Tensor, cov: Tensor, gram: Tensor,
                     alpha: float) -> tuple[Tensor, Tensor]:
    """``z_S = G_SS^{-1} (c_S - alpha s_S)`` per row (zero off ``S``), and where it was solvable.

    Rows are grouped by support size (in steps of 8 atoms) so that a few large supports do not
    make every row pay for their padding.

    Example:
        >>> s = torch.tensor([[True, False]])
        >>> solve_on_support(s, torch.ones(1, 2), torch.tensor([[3.0, 1.0]]), torch.eye(2), 1.0)
        (tensor([[2., 0.]]), tensor([True]))
    """
    m, k = cov.shape
    padded = torch.nn.functional.pad(gram, (0, 1, 0, 1)).flatten()  # atom k: zero row/column
    rhs = cov - alpha * sign
    if m < 256:  # small batches: one group
        return _solve_padded(support, rhs, padded, k)
    codes = torch.zeros_like(cov)
    solved = torch.ones(m, dtype=torch.bool, device=cov.device)
    group = torch.div(support.sum(1) + 7, 8, rounding_mode="floor")  # 0: empty, 1: 1..8, ...
    for g in torch.unique(group).tolist():
        if g == 0:
            continue  # empty supports: codes 0, trivially solved
        rows = (group == g).nonzero().squeeze(1)
        part, ok = _solve_padded(support.index_select(0, rows), rhs.index_select(0, rows),
                                 padded, k)
        codes.index_copy_(0, rows, part)
        solved.index_copy_(0, rows, ok)
    return codes, solved


def _solve_padded(support: Tensor, rhs: Tensor, padded: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Solve every row's support system at the largest support size of the batch."""
    m = support.shape[0]
    size = int(support.sum(1).max()) if m else 0
    if size == 0:
        return torch.zeros_like(rhs), torch.ones(m, dtype=torch.bool, device=rhs.device)
    # idx[i] lists row i's atoms in order, then padding slots that point at atom k, whose row
    # and column of `padded` are zero; their diagonal is set to 1: blocks are [[G_SS, 0], [0, I]]
    col = torch.where(support, support.cumsum(1) - 1, size)  # slot of each atom, `size`: none
    idx = torch.full((m, size + 1), k, dtype=torch.long, device=rhs.device)
    idx.scatter_(1, col, torch.arange(k, device=rhs.device).expand(m, k))
    idx = idx[:, :size]  # (m, s)
    pad = idx == k
    flat = (idx[:, :, None] * (k + 1) + idx[:, None, :]).flatten()
    block = padded.index_select(0, flat).view(m, size, size)
    block.diagonal(dim1=1, dim2=2).add_(pad)
    b = rhs.gather(1, idx.clamp(max=k - 1)).masked_fill_(pad, 0.0)  # (m, s)
    chol, info = torch.linalg.cholesky_ex(block)
    sol = torch.cholesky_solve(b[..., None], chol)[..., 0]
    codes = rhs.new_zeros(m, k + 1).scatter_(1, idx, sol)[:, :k]
    return codes, info == 0


def polish(z: Tensor, cov: Tensor, gram: Tensor, alpha: float, positive: bool,
           rounds: int = 6, grow: int = 2,
           max_support: int | None = None) -> tuple[Tensor, Tensor]:
    """Exact lasso codes from an iterate's support, and the rows (m,) they are certified for.

    Rows whose support has more than ``max_support`` atoms (default: no limit) are not
    attempted; uncertified rows come back as zeros.

    Example:
        >>> z0 = torch.tensor([[1.5, 0.0, 0.2]])  # one atom too many, values not converged
        >>> polish(z0, torch.tensor([[3.0, -0.5, 0.5]]), torch.eye(3), 1.0, positive=False)
        (tensor([[2., 0., 0.]]), tensor([True]))
    """
    m, k = z.shape
    out = torch.zeros_like(z)
    certified = torch.zeros(m, dtype=torch.bool, device=z.device)
    rows = torch.arange(m, device=z.device)
    support = z != 0
    sign = torch.ones_like(z) if positive else torch.sign(z)
    if max_support is not None:
        small = (support.sum(1) <= max_support).nonzero().squeeze(1)
        rows, support, sign, cov = (t.index_select(0, small) for t in (rows, support, sign, cov))
    slack = kkt_slack(cov, alpha)[:, None]
    for r in range(rounds):
        if len(rows) == 0:
            break
        codes, solved = solve_on_support(support, sign, cov, gram, alpha)
        resid = torch.addmm(cov, codes, gram, alpha=-1.0)  # c - z G, (m, k)
        sign_ok = (codes * sign > 0) | ~support
        excess = (resid if positive else resid.abs()).sub_(alpha)  # > 0: KKT violated off S
        on_ok = (resid - alpha * sign).abs_() <= slack
        ok = solved & sign_ok.all(1) & torch.where(support, on_ok, excess <= slack).all(1)
        done = ok.nonzero().squeeze(1)
        out.index_copy_(0, rows[done], codes.index_select(0, done))
        certified[rows[done]] = True
        if r == rounds - 1:
            break
        keep = (~ok & solved).nonzero().squeeze(1)
        rows, support, sign, cov, slack, excess, resid, sign_ok = (
            t.index_select(0, keep)
            for t in (rows, support, sign, cov, slack, excess, resid, sign_ok))
        # the `grow` worst violators join, with the sign of their residual correlation
        excess = excess.sub_(slack).masked_fill_(support, 0.0)
        add = torch.zeros_like(support)
        for _ in range(min(grow, k)):
            j = excess.argmax(1, keepdim=True)
            add.scatter_(1, j, excess.gather(1, j) > 0)
            excess.scatter_(1, j, 0.0)
        sign = torch.where(add, 1.0 if positive else torch.sign(resid), sign)
        support = (support & sign_ok) | add
        if max_support is not None:
            small = (support.sum(1) <= max_support).nonzero().squeeze(1)
            rows, support, sign, cov, slack = (
                t.index_select(0, small) for t in (rows, support, sign, cov, slack))
    return out, certified
