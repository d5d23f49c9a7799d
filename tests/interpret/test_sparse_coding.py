"""sparse_encode vs scikit-learn (objective, OMP codes), edge cases, bad input, KKT property."""

from __future__ import annotations

import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import sparse_encode as sk_sparse_encode

from actsparse import zoo
from actsparse.interpret.sparse_coding import ConvergenceWarning, lasso_objective, sparse_encode

pytestmark = pytest.mark.usefixtures("one_thread")

LASSO = ["admm", "fista", "ista"]


def _unit_rows(d: torch.Tensor) -> torch.Tensor:
    return d / d.norm(dim=1, keepdim=True)


def _random_problem(n: int = 40, k: int = 30, f: int = 20, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    D = _unit_rows(torch.randn(k, f, generator=g, dtype=torch.float64))
    X = torch.randn(n, f, generator=g, dtype=torch.float64)
    return X, D


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """272 digits (pixels in [0, 1]) and 128 other digits as unit-norm atoms: a coherent,
    overcomplete dictionary (64 features), the hard case for proximal gradient."""
    x = zoo.load_data("digits", split="train", limit=400).images.reshape(-1, 64).double()
    return x[128:], _unit_rows(x[:128])


def _sklearn_objective(X, D, alpha, positive=False) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lasso_cd's tol=1e-8 often warns about convergence
        Z = sk_sparse_encode(X.numpy(), D.numpy(), algorithm="lasso_cd", alpha=alpha,
                             positive=positive)
    return float(lasso_objective(X, torch.from_numpy(Z), D, alpha).sum())


@pytest.mark.parametrize("algorithm", LASSO)
@pytest.mark.parametrize("alpha", [0.05, 0.5])
def test_objective_matches_sklearn_lasso_cd_random(algorithm, alpha):
    X, D = _random_problem()
    ours = float(lasso_objective(X, sparse_encode(X, D, algorithm=algorithm, alpha=alpha), D,
                                 alpha).sum())
    # admm and fista end certified optimal; plain ISTA may stop on tol first (0.1% is the goal)
    rtol = 1e-3 if algorithm == "ista" else 1e-6
    assert ours <= _sklearn_objective(X, D, alpha) * (1 + rtol)


@pytest.mark.parametrize("algorithm,alpha", [("admm", 0.1), ("fista", 0.1), ("admm", 0.5),
                                             ("fista", 0.5), ("ista", 0.5)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_objective_matches_sklearn_lasso_cd_digits(digits, algorithm, alpha, dtype):
    X, D = digits
    codes = sparse_encode(X.to(dtype), D.to(dtype), algorithm=algorithm, alpha=alpha)
    assert codes.dtype == dtype
    ours = float(lasso_objective(X, codes.double(), D, alpha).sum())
    assert ours <= _sklearn_objective(X, D, alpha) * (1 + 1e-3)  # the acceptance: within 0.1%


def test_positive_codes_match_sklearn(digits):
    X, D = digits
    codes = sparse_encode(X, D, alpha=0.2, positive=True)
    assert bool((codes >= 0).all())
    ours = float(lasso_objective(X, codes, D, 0.2).sum())
    assert ours <= _sklearn_objective(X, D, 0.2, positive=True) * (1 + 1e-6)


@pytest.mark.parametrize("n_nonzero", [1, 3, 8])
def test_omp_equals_sklearn(n_nonzero):
    X, D = _random_problem(k=50)
    ours = sparse_encode(X, D, algorithm="omp", n_nonzero_coefs=n_nonzero)
    theirs = sk_sparse_encode(X.numpy(), D.numpy(), algorithm="omp", n_nonzero_coefs=n_nonzero)
    torch.testing.assert_close(ours, torch.from_numpy(theirs), rtol=1e-9, atol=1e-9)
    assert int((ours != 0).sum(1).max()) == n_nonzero


def test_omp_default_n_nonzero_like_sklearn(digits):
    X, D = digits
    ours = sparse_encode(X, D, algorithm="omp")  # max(64 // 10, 1) = 6 atoms
    theirs = sk_sparse_encode(X.numpy(), D.numpy(), algorithm="omp")
    assert int((ours != 0).sum(1).max()) == 6
    torch.testing.assert_close(ours, torch.from_numpy(theirs), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("algorithm", LASSO + ["omp"])
def test_batch_of_one_and_empty_batch(algorithm):
    X, D = _random_problem()
    full = sparse_encode(X, D, algorithm=algorithm, alpha=0.3)
    one = sparse_encode(X[3:4], D, algorithm=algorithm, alpha=0.3)
    torch.testing.assert_close(one, full[3:4], rtol=1e-6, atol=1e-8)
    assert sparse_encode(X[:0], D, algorithm=algorithm, alpha=0.3).shape == (0, 30)


@pytest.mark.parametrize("algorithm", LASSO + ["omp"])
def test_zero_input_gives_zero_codes(algorithm):
    _, D = _random_problem()
    codes = sparse_encode(torch.zeros(5, 20, dtype=torch.float64), D, algorithm=algorithm)
    assert bool((codes == 0).all())


@pytest.mark.parametrize("algorithm", LASSO)
def test_huge_alpha_gives_zero_codes(algorithm):
    X, D = _random_problem()
    assert bool((sparse_encode(X, D, algorithm=algorithm, alpha=1e6) == 0).all())


@pytest.mark.parametrize("algorithm", LASSO)
def test_alpha_zero_is_least_squares(algorithm):
    X, D = _random_problem(k=10)  # undercomplete: a unique least-squares solution
    codes = sparse_encode(X, D, algorithm=algorithm, alpha=0.0, max_iter=5000, tol=1e-10)
    expected = torch.linalg.lstsq(D.T, X.T).solution.T
    torch.testing.assert_close(codes, expected, rtol=1e-5, atol=1e-6)


def test_non_contiguous_input_and_float32():
    X, D = _random_problem()
    Xt = X.T.contiguous().T  # same values, transposed strides
    assert not Xt.is_contiguous()
    torch.testing.assert_close(sparse_encode(Xt, D, alpha=0.2), sparse_encode(X, D, alpha=0.2))
    codes32 = sparse_encode(X.float(), D.float(), alpha=0.2)
    assert codes32.dtype == torch.float32
    torch.testing.assert_close(codes32.double(), sparse_encode(X, D, alpha=0.2), rtol=1e-3,
                               atol=1e-4)


def test_unpolished_ista_is_plain_ista():
    X, D = _random_problem()
    L = float(torch.linalg.matrix_norm(D, ord=2)) ** 2
    z = torch.zeros(40, 30, dtype=torch.float64)
    for _ in range(7):
        v = z - (z @ D - X) @ D.T / L
        z = torch.sign(v) * torch.relu(v.abs() - 0.3 / L)
    codes = sparse_encode(X, D, algorithm="ista", alpha=0.3, max_iter=7, tol=0.0, polish=False)
    torch.testing.assert_close(codes, z)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"dictionary": torch.zeros(20, 30)}, r"dictionary must have shape .*transpose"),
        ({"dictionary": torch.zeros(30)}, "dictionary must be 2-D"),
        ({"X": torch.zeros(20)}, "X must be 2-D"),
        ({"alpha": -0.1}, "alpha must be a finite number >= 0"),
        ({"alpha": float("nan")}, "alpha must be a finite number >= 0"),
        ({"algorithm": "lars"}, "unknown algorithm 'lars'; choose one of admm, fista, ista, omp"),
        ({"algorithm": "omp", "n_nonzero_coefs": 31}, r"n_nonzero_coefs must be .* \[1, n_comp"),
        ({"algorithm": "omp", "n_nonzero_coefs": 0}, "n_nonzero_coefs must be"),
        ({"algorithm": "omp", "positive": True}, "positive=True is not supported"),
        ({"X": torch.full((2, 20), float("nan"))}, "X contains NaN or infinite"),
        ({"dictionary": torch.full((30, 20), float("inf"))}, "dictionary contains NaN"),
        ({"max_iter": 0}, "max_iter must be an integer >= 1"),
        ({"tol": -1.0}, "tol must be a number >= 0"),
    ],
)
def test_bad_input_gets_a_clear_error(kwargs, message):
    X, D = _random_problem()
    args = {"X": X.float(), "dictionary": D.float(), **kwargs}
    X_, D_ = args.pop("X"), args.pop("dictionary")
    with pytest.raises(ValueError, match=message):
        sparse_encode(X_, D_, **args)


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 12), k=st.integers(1, 16), f=st.integers(1, 10),
    alpha=st.floats(0.01, 2.0), positive=st.booleans(), seed=st.integers(0, 2**16),
    algorithm=st.sampled_from(["admm", "fista"]),
)
def test_codes_satisfy_the_lasso_optimality_conditions(n, k, f, alpha, positive, seed, algorithm):
    g = torch.Generator().manual_seed(seed)
    D = torch.randn(k, f, generator=g, dtype=torch.float64)
    X = torch.randn(n, f, generator=g, dtype=torch.float64)
    Z = sparse_encode(X, D, alpha=alpha, positive=positive, algorithm=algorithm, max_iter=20000,
                      tol=1e-12)
    resid = (X - Z @ D) @ D.T  # minus the gradient of the smooth part, (n, k)
    slack = 1e-5 * (1 + resid.abs().max())
    on = Z != 0
    if positive:
        assert bool((Z >= 0).all())
        assert bool((resid[~on] <= alpha + slack).all())
    else:
        assert bool((resid[~on].abs() <= alpha + slack).all())
    sign = torch.ones_like(Z) if positive else torch.sign(Z)
    assert bool(((resid - alpha * sign)[on].abs() <= slack).all())


# -- issue 15.7: stopping at max_iter is said, not silent ------------------------------------
@pytest.mark.parametrize("algorithm", ["ista", "fista"])
def test_stopping_at_max_iter_warns_on_centred_digits(digits, algorithm):
    X, D = digits
    X = X - X.mean(0)  # centred pixels, the atoms drawn from the data
    with pytest.warns(ConvergenceWarning, match=rf"algorithm='{algorithm}'.* max_iter=20 .*"
                                                r"samples not converged"):
        sparse_encode(X, D, algorithm=algorithm, alpha=0.1, max_iter=20, polish=False)


@pytest.mark.parametrize("algorithm", ["ista", "fista"])
def test_default_solve_is_either_exact_or_warned(digits, algorithm):
    X, D = digits
    X = X - X.mean(0)
    exact = sparse_encode(X, D, algorithm="admm", alpha=0.1, max_iter=20000, tol=1e-12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        codes = sparse_encode(X, D, algorithm=algorithm, alpha=0.1)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    off = (lasso_objective(X, codes, D, 0.1) - lasso_objective(X, exact, D, 0.1)).max()
    assert warned or float(off) <= 1e-6 * float(lasso_objective(X, exact, D, 0.1).max())


def test_converged_solve_does_not_warn():
    X, D = _random_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        sparse_encode(X, torch.eye(20, dtype=torch.float64), algorithm="ista", alpha=0.3)
        sparse_encode(X, D, algorithm="fista", alpha=0.3)
        sparse_encode(X, D, algorithm="ista", alpha=0.3, max_iter=3, tol=0.0)  # 3 steps asked
