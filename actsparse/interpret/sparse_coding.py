"""Sparse coding in batched torch: codes ``Z`` with ``X ~ Z D`` for a fixed dictionary ``D``.

The convention is scikit-learn's: ``dictionary`` is ``(n_components, n_features)`` (rows are
atoms) and the lasso objective per sample is

    0.5 * ||x - z D||_2^2 + alpha * ||z||_1

(``sklearn.decomposition.sparse_encode(..., algorithm="lasso_cd", alpha=a)`` fits ``Lasso``
with ``alpha = a / n_features``, whose loss is this one divided by ``n_features``: the same
minimiser).

Algorithms (all samples are solved together: ``G = D D^T`` and ``X D^T`` are computed once and
an iteration is one ``(n, k) @ (k, k)`` product):

- ``"admm"`` (default): ADMM with a cached ``(G + rho I)^{-1}`` and over-relaxation
  (``_admm.py``); the fastest here, because it is not slowed by the few large eigenvalues of
  coherent dictionaries.
- ``"fista"``: accelerated proximal gradient with adaptive restart (``_fista.py``).
- ``"ista"``: proximal gradient without momentum (what :class:`~actsparse.interpret.lista.LISTA`
  unrolls).
- ``"omp"``: orthogonal matching pursuit, greedy with ``n_nonzero_coefs`` atoms per sample
  (default ``max(n_features // 10, 1)`` as in scikit-learn); ``alpha`` is not used.

With ``polish=True`` (default) the lasso solvers end exactly: every few iterations each sample
is solved in closed form on its current support and kept where the KKT conditions certify the
result optimal (``_polish.py``); a sample that is never certified stops on ``tol`` or
``max_iter`` like the plain iteration. ``polish=False`` gives the plain iterates (ISTA with
``max_iter=t`` then equals ``t`` ISTA steps from zero). When ``max_iter`` stops ISTA or FISTA
before some samples converge, a :class:`ConvergenceWarning` says how many (as scikit-learn's
solvers warn); raise ``max_iter`` or ``tol``, or use ``"admm"``. ``tol=0`` asks for exactly
``max_iter`` steps and does not warn.

float64 inputs are solved in float64, float32 in float32, half types in float32; codes come
back in the input's dtype and device.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor

from actsparse.interpret._admm import admm
from actsparse.interpret._fista import lipschitz, proximal_gradient
from actsparse.interpret._omp import batch_omp

__all__ = [
    "ALGORITHMS", "ConvergenceWarning", "as_float_matrix", "check_dictionary", "lasso_objective",
    "sparse_encode",
]

ALGORITHMS = ("admm", "fista", "ista", "omp")


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at its iteration cap before its tolerance was met.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     D = torch.tensor([[1.0, 0.0], [0.9, 0.4]])
        ...     _ = sparse_encode(torch.tensor([[1.0, 0.3]]), D, algorithm="ista", alpha=0.01,
        ...                       max_iter=2, tol=1e-6, polish=False)
        >>> caught[0].category.__name__
        'ConvergenceWarning'
    """


def as_float_matrix(x: Tensor, name: str) -> Tensor:
    """``x`` as a 2-D floating tensor with finite values, or a ValueError naming ``name``.

    Example:
        >>> as_float_matrix(torch.tensor([[1, 2]]), "X")
        tensor([[1., 2.]])
        >>> as_float_matrix(torch.tensor([[float("nan")]]), "X")
        Traceback (most recent call last):
        ...
        ValueError: X contains NaN or infinite values; clean or impute them first
    """
    if not isinstance(x, Tensor):
        x = torch.as_tensor(x)
    if x.dim() != 2:
        raise ValueError(f"{name} must be 2-D, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values; clean or impute them first")
    return x


def check_dictionary(X: Tensor, dictionary: Tensor) -> tuple[Tensor, Tensor]:
    """Validate ``X`` (n_samples, n_features) and ``dictionary`` (n_components, n_features).

    Returns both as floating tensors of one dtype (the wider of the two).

    Example:
        >>> x, d = check_dictionary(torch.zeros(5, 3), torch.eye(3, dtype=torch.float64))
        >>> x.dtype
        torch.float64
        >>> check_dictionary(torch.zeros(5, 3), torch.zeros(3, 4))
        Traceback (most recent call last):
        ...
        ValueError: dictionary must have shape (n_components, n_features=3) with atoms as ...
    """
    X = as_float_matrix(X, "X")
    dictionary = as_float_matrix(dictionary, "dictionary")
    if dictionary.shape[1] != X.shape[1]:
        hint = " (transpose it?)" if dictionary.shape[0] == X.shape[1] else ""
        raise ValueError(
            f"dictionary must have shape (n_components, n_features={X.shape[1]}) with atoms as "
            f"rows; got {tuple(dictionary.shape)}{hint}"
        )
    if dictionary.shape[0] == 0:
        raise ValueError("dictionary has no atoms (n_components = 0)")
    if dictionary.device != X.device:
        raise ValueError(f"X is on {X.device} but dictionary is on {dictionary.device}")
    dtype = torch.promote_types(X.dtype, dictionary.dtype)
    return X.to(dtype), dictionary.to(dtype)


def lasso_objective(X: Tensor, codes: Tensor, dictionary: Tensor, alpha: float) -> Tensor:
    """Per-sample ``0.5 * ||x - z D||^2 + alpha * ||z||_1``, shape (n_samples,).

    Example:
        >>> d = torch.eye(2)
        >>> lasso_objective(torch.tensor([[3.0, 0.0]]), torch.tensor([[2.0, 0.0]]), d, 1.0)
        tensor([2.5000])
    """
    resid = X - codes @ dictionary
    return 0.5 * (resid * resid).sum(1) + alpha * codes.abs().sum(1)


def sparse_encode(
    X: Tensor,
    dictionary: Tensor,
    *,
    algorithm: str = "admm",
    alpha: float = 1.0,
    n_nonzero_coefs: int | None = None,
    max_iter: int = 1000,
    tol: float = 1e-6,
    positive: bool = False,
    polish: bool = True,
) -> Tensor:
    """Sparse codes of the rows of ``X`` over the atoms (rows) of ``dictionary``.

    Args:
        X: (n_samples, n_features) data.
        dictionary: (n_components, n_features), one atom per row (scikit-learn's layout).
        algorithm: ``"admm"`` (default), ``"fista"``, ``"ista"`` or ``"omp"``.
        alpha: L1 weight, ``>= 0`` (admm/fista/ista). ``0`` gives least squares (not the
            minimum-norm solution when the dictionary is overcomplete).
        n_nonzero_coefs: atoms per sample for ``"omp"``; default ``max(n_features // 10, 1)``
            (capped at n_components).
        max_iter: iteration cap for admm/fista/ista.
        tol: a sample that is not certified optimal stops when its code changes by at most
            ``tol`` times its norm (admm: and its primal residual is as small).
        positive: constrain codes to be ``>= 0`` (admm/fista/ista).
        polish: finish exactly on the support (see the module docstring).

    Returns:
        (n_samples, n_components) codes, in ``X``'s dtype and device.

    Example:
        >>> D = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
        >>> sparse_encode(torch.tensor([[3.0, 4.0]]), D, alpha=1.0)
        tensor([[0., 0., 4.]])
        >>> sparse_encode(torch.tensor([[3.0, 4.0]]), D, algorithm="omp", n_nonzero_coefs=1)
        tensor([[0., 0., 5.]])
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
    if not (isinstance(alpha, int | float) and math.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if not (isinstance(tol, int | float) and tol >= 0):
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")
    out_dtype = X.dtype if isinstance(X, Tensor) and X.is_floating_point() else None
    X, dictionary = check_dictionary(X, dictionary)
    n_components, n_features = dictionary.shape
    if algorithm == "omp":
        if positive:
            raise ValueError("positive=True is not supported with algorithm='omp'; use 'admm'")
        if n_nonzero_coefs is None:
            n_nonzero_coefs = min(max(n_features // 10, 1), n_components)
        if (isinstance(n_nonzero_coefs, bool) or not isinstance(n_nonzero_coefs, int)
                or not 1 <= n_nonzero_coefs <= n_components):
            raise ValueError(
                f"n_nonzero_coefs must be an integer in [1, n_components={n_components}], "
                f"got {n_nonzero_coefs!r}"
            )
    work = X.dtype if X.dtype in (torch.float32, torch.float64) else torch.float32
    x = X.to(work)
    d = dictionary.detach().to(work)
    with torch.no_grad():
        gram = d @ d.T  # (k, k)
        cov = x @ d.T  # (n, k)
        if algorithm == "omp":
            assert n_nonzero_coefs is not None
            codes = batch_omp(cov, gram, n_nonzero_coefs)
        else:
            if algorithm == "admm":
                codes, _ = admm(cov, gram, float(alpha), max_iter=max_iter, tol=float(tol),
                                positive=positive, polish_every=5 if polish else 0,
                                max_support=n_features)
            else:
                codes, _, unconverged = proximal_gradient(
                    cov, gram, float(alpha), lipschitz(d), max_iter=max_iter, tol=float(tol),
                    positive=positive, momentum=algorithm == "fista",
                    polish_every=10 if polish else 0, max_support=n_features,
                )
                if unconverged and tol > 0:  # tol=0 asks for exactly max_iter steps
                    warnings.warn(
                        f"sparse_encode(algorithm={algorithm!r}) stopped at max_iter={max_iter} "
                        f"with {unconverged} of {len(x)} samples not converged to tol={tol:g}; "
                        "raise max_iter (or tol), or use algorithm='admm'",
                        ConvergenceWarning, stacklevel=2,
                    )
    return codes.to(out_dtype or X.dtype)
