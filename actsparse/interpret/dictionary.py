"""Online (mini-batch) dictionary learning (Mairal, Bach, Ponce & Sapiro 2009).

Learns ``D`` (n_components, n_features), rows of unit norm, that makes the data sparse:

    min_D  mean over samples of  min_z 0.5 * ||x - z D||^2 + alpha * ||z||_1

One step on a mini-batch ``X_b`` (b samples):

1. codes ``Z_b = sparse_encode(X_b, D, alpha)`` (exact lasso codes, see ``sparse_coding.py``);
2. past statistics fade and the batch's are added (scikit-learn's forgetting schedule):
   ``A <- beta A + Z_b^T Z_b / b`` and ``B <- beta B + X_b^T Z_b / b``;
3. one pass of block-coordinate descent on the surrogate ``0.5 tr(D^T A D) - tr(D^T B^T)``:
   ``d_j <- d_j + (B_j - A_j D) / A_jj``, then ``d_j`` is renormalised to unit norm. An atom
   that the codes have (almost) never used (``A_jj <= 1e-6``) or that collapsed to zero is
   replaced by a random sample of the batch plus 1% noise.

The dictionary starts from ``n_components`` random samples (plus 1% noise, unit norm), which
suits overcomplete dictionaries better than an SVD start. Everything random comes from one
``torch.Generator`` seeded by ``random_state``, so a seeded fit is reproducible.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from actsparse.interpret.sparse_coding import (
    ALGORITHMS,
    check_dictionary,
    lasso_objective,
    sparse_encode,
)

__all__ = ["DictionaryLearning"]


def _check_data(X: Tensor) -> Tensor:
    if not isinstance(X, Tensor):
        X = torch.as_tensor(X)
    if X.dim() != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X must be 2-D (n_samples, n_features), non-empty; got {tuple(X.shape)}")
    if not X.is_floating_point():
        X = X.to(torch.get_default_dtype())
    if not bool(torch.isfinite(X).all()):
        raise ValueError("X contains NaN or infinite values; clean or impute them first")
    return X


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


class DictionaryLearning:
    """Mini-batch dictionary learning with scikit-learn's verbs and lasso convention.

    Args:
        n_components: number of atoms.
        alpha: L1 weight of the codes while fitting (objective per sample
            ``0.5 ||x - z D||^2 + alpha ||z||_1``).
        batch_size: samples per mini-batch.
        n_epochs: passes over the data in :meth:`fit` (the batches are reshuffled each epoch).
        transform_algorithm: ``sparse_encode`` algorithm used by :meth:`transform`.
        transform_alpha: ``alpha`` for :meth:`transform` (default: ``alpha``).
        transform_n_nonzero_coefs: atoms per sample when ``transform_algorithm="omp"``.
        positive_code: constrain the codes to be non-negative (fit and transform).
        random_state: seed for the initial atoms, the shuffling and the atom replacements.
        fit_algorithm: ``sparse_encode`` algorithm for the codes while fitting.

    Fitted attributes: ``components_`` (n_components, n_features), rows of unit norm;
    ``n_iter_`` (epochs run); ``n_steps_`` (mini-batch steps run); ``error_`` (list, the mean
    per-sample objective over each epoch's batches, measured before each batch's update;
    :meth:`partial_fit` appends its batch's value); ``n_features_in_``.

    Example:
        >>> X = torch.randn(100, 6, generator=torch.Generator().manual_seed(0))
        >>> dl = DictionaryLearning(8, alpha=0.5, batch_size=50, n_epochs=2, random_state=0)
        >>> codes = dl.fit_transform(X)
        >>> tuple(dl.components_.shape), tuple(codes.shape), dl.n_iter_, dl.n_steps_
        ((8, 6), (100, 8), 2, 4)
        >>> bool(torch.allclose(dl.components_.norm(dim=1), torch.ones(8)))
        True
        >>> dl.error_[-1] < dl.error_[0]
        True
    """

    components_: Tensor
    n_features_in_: int
    n_iter_: int
    n_steps_: int
    error_: list[float]

    def __init__(
        self,
        n_components: int,
        *,
        alpha: float = 1.0,
        batch_size: int = 256,
        n_epochs: int = 10,
        transform_algorithm: str = "admm",
        transform_alpha: float | None = None,
        transform_n_nonzero_coefs: int | None = None,
        positive_code: bool = False,
        random_state: int | None = None,
        fit_algorithm: str = "admm",
    ) -> None:
        self.n_components = n_components
        self.alpha = alpha
        self.batch_size = batch_size
        self.n_epochs = n_epochs
        self.transform_algorithm = transform_algorithm
        self.transform_alpha = transform_alpha
        self.transform_n_nonzero_coefs = transform_n_nonzero_coefs
        self.positive_code = positive_code
        self.random_state = random_state
        self.fit_algorithm = fit_algorithm

    def __repr__(self) -> str:
        return (f"DictionaryLearning(n_components={self.n_components}, alpha={self.alpha}, "
                f"batch_size={self.batch_size}, n_epochs={self.n_epochs})")

    # ----------------------------------------------------------------------------------- fit
    def fit(self, X: Tensor) -> DictionaryLearning:
        """Learn the dictionary from ``X`` (n_samples, n_features); returns ``self``."""
        X = self._start(_check_data(X), reset=True)
        batch = min(self.batch_size, X.shape[0])
        for _ in range(self.n_epochs):
            order = torch.randperm(X.shape[0], generator=self._gen).to(X.device)
            costs = [self._step(X[order[i:i + batch]]) for i in range(0, X.shape[0], batch)]
            self.error_.append(sum(costs) / len(costs))
            self.n_iter_ += 1
        return self

    def partial_fit(self, X: Tensor) -> DictionaryLearning:
        """One update with ``X`` as a single mini-batch (starts the model if needed)."""
        X = self._start(_check_data(X), reset=not hasattr(self, "components_"))
        self.error_.append(self._step(X))
        return self

    def transform(self, X: Tensor) -> Tensor:
        """Sparse codes (n_samples, n_components) of ``X`` over the learned atoms."""
        if not hasattr(self, "components_"):
            raise RuntimeError("DictionaryLearning is not fitted yet; call fit or partial_fit")
        X, _ = check_dictionary(_check_data(X), self.components_)
        alpha = self.alpha if self.transform_alpha is None else self.transform_alpha
        return sparse_encode(
            X, self.components_.to(X.dtype), algorithm=self.transform_algorithm, alpha=alpha,
            n_nonzero_coefs=self.transform_n_nonzero_coefs, positive=self.positive_code,
        )

    def fit_transform(self, X: Tensor) -> Tensor:
        """:meth:`fit` then :meth:`transform` on the same data."""
        return self.fit(X).transform(X)

    # ------------------------------------------------------------------------------ internals
    def _check_params(self) -> None:
        _positive_int(self.n_components, "n_components")
        _positive_int(self.batch_size, "batch_size")
        if isinstance(self.n_epochs, bool) or not isinstance(self.n_epochs, int) \
                or self.n_epochs < 0:
            raise ValueError(f"n_epochs must be an integer >= 0, got {self.n_epochs!r}")
        for name in ("alpha", "transform_alpha"):
            value = getattr(self, name)
            if value is None and name == "transform_alpha":
                continue
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        for name in ("transform_algorithm", "fit_algorithm"):
            value = getattr(self, name)
            allowed = ALGORITHMS if name == "transform_algorithm" else ("fista", "ista", "admm")
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")

    def _start(self, X: Tensor, reset: bool) -> Tensor:
        if not reset:
            if X.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {X.shape[1]} features; the model was fitted on "
                                 f"{self.n_features_in_}")
            return X.to(self.components_.dtype)
        self._check_params()
        seed = self.random_state
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)))
        self._gen = torch.Generator().manual_seed(seed)
        k, f = self.n_components, X.shape[1]
        picks = torch.randint(0, X.shape[0], (k,), generator=self._gen)
        atoms = X[picks.to(X.device)]
        self.components_ = self._renormalise(atoms + self._noise(atoms))
        self._A = X.new_zeros(k, k)
        self._B = X.new_zeros(f, k)
        self.n_features_in_ = f
        self.n_iter_ = 0
        self.n_steps_ = 0
        self.error_ = []
        return X

    def _noise(self, rows: Tensor) -> Tensor:
        """1% of each row's standard deviation (1% of 1 for a constant row) of Gaussian noise."""
        scale = rows.std(dim=1, keepdim=True) if rows.shape[1] > 1 else rows.new_ones(len(rows), 1)
        scale = torch.where(scale > 0, scale, 1.0) * 0.01
        noise = torch.randn(rows.shape, generator=self._gen, dtype=rows.dtype)
        return noise.to(rows.device) * scale

    def _renormalise(self, atoms: Tensor) -> Tensor:
        norms = atoms.norm(dim=1, keepdim=True)
        return atoms / torch.where(norms > 0, norms, 1.0)

    def _step(self, X: Tensor) -> float:
        """Code one mini-batch, fold it into A and B, update the atoms; the batch's cost."""
        D = self.components_
        codes = sparse_encode(X, D, algorithm=self.fit_algorithm, alpha=self.alpha,
                              positive=self.positive_code, max_iter=300, tol=1e-5)
        cost = float(lasso_objective(X, codes, D, self.alpha).mean())
        b = X.shape[0]
        step = self.n_steps_
        theta = (step + 1) * b if step < b - 1 else b * b + step + 1 - b
        beta = (theta + 1 - b) / (theta + 1)
        self._A.mul_(beta).add_(codes.T @ codes / b)
        self._B.mul_(beta).add_(X.T @ codes / b)
        self.components_ = self._update_atoms(D.clone(), X)
        self.n_steps_ += 1
        return cost

    def _update_atoms(self, D: Tensor, X: Tensor) -> Tensor:
        """One block-coordinate pass over the atoms on the surrogate (A, B)."""
        A, B = self._A, self._B
        diag = torch.diagonal(A).tolist()
        for j in range(D.shape[0]):
            if diag[j] > 1e-6:
                D[j] += (B[:, j] - A[j] @ D) / diag[j]
                norm = float(D[j].norm())
            else:
                norm = 0.0
            if norm > 1e-10:
                D[j] /= norm
            else:  # unused or collapsed atom: restart it from a random sample of the batch
                pick = int(torch.randint(0, X.shape[0], (1,), generator=self._gen))
                fresh = X[pick:pick + 1]
                fresh = fresh + self._noise(fresh)
                D[j] = self._renormalise(fresh)[0]
        return D
