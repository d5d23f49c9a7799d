"""Sparsity measures: known values, invariances (hypothesis), cross-checks with numpy/scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch.testing import assert_close

from actsparse import metrics

SETTINGS = settings(max_examples=40, deadline=None)

# Magnitudes kept well inside float32 so that norms neither overflow nor underflow.
finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False, width=32)
vectors = arrays(np.float32, st.integers(2, 40), elements=finite)
nonneg_vectors = arrays(
    np.float32, st.integers(2, 40), elements=st.floats(0.0, 1e3, allow_nan=False, width=32)
)


def _nonzero(v: np.ndarray) -> bool:
    return bool(np.abs(v).sum() > 1e-6)


def gini_numpy(v: np.ndarray) -> float:
    """Hurley & Rickard (2009): G = 1 - 2 sum_k c_(k)/||c||_1 (N - k + 1/2)/N, c ascending."""
    c = np.sort(np.abs(v.astype(np.float64)))
    n = len(c)
    k = np.arange(1, n + 1)
    return float(1 - 2 * np.sum(c / c.sum() * (n - k + 0.5) / n))


def hoyer_numpy(v: np.ndarray) -> float:
    v = v.astype(np.float64)
    n = len(v)
    return float((math.sqrt(n) - np.abs(v).sum() / np.linalg.norm(v)) / (math.sqrt(n) - 1))


# -- known values ------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [2, 3, 8, 100])
@pytest.mark.parametrize("pos", [0, -1])
@pytest.mark.parametrize("scale", [1e-3, 1.0, -7.5])
def test_one_hot(n: int, pos: int, scale: float) -> None:
    x = torch.zeros(n)
    x[pos] = scale
    assert_close(metrics.hoyer(x), torch.tensor(1.0))
    assert_close(metrics.gini(x), torch.tensor(1 - 1 / n))
    assert_close(metrics.treves_rolls(x), torch.tensor(1 / n))
    assert_close(metrics.density(x), torch.tensor(1 / n))


@pytest.mark.parametrize("n", [2, 3, 8, 100])
@pytest.mark.parametrize("value", [1e-3, 1.0, -4.0])
def test_constant(n: int, value: float) -> None:
    x = torch.full((n,), value)
    assert_close(metrics.hoyer(x), torch.tensor(0.0), atol=1e-6, rtol=0)
    assert_close(metrics.gini(x), torch.tensor(0.0), atol=1e-6, rtol=0)
    assert_close(metrics.treves_rolls(x), torch.tensor(1.0))
    assert_close(metrics.kurtosis(x), torch.tensor(0.0))


def test_all_zero_reads_as_sparse() -> None:
    x = torch.zeros(3, 5)
    assert_close(metrics.hoyer(x), torch.ones(3))
    assert_close(metrics.gini(x), torch.ones(3))
    assert_close(metrics.treves_rolls(x), torch.zeros(3))
    assert_close(metrics.density(x), torch.zeros(3))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_dim_argument(dim: int) -> None:
    x = torch.randn(4, 6).relu()
    moved = x.movedim(dim, -1)
    for fn in (metrics.hoyer, metrics.gini, metrics.treves_rolls, metrics.density):
        assert_close(fn(x, dim=dim), fn(moved))
    assert_close(metrics.kurtosis(x, dim=dim), metrics.kurtosis(moved))


# -- invariances -------------------------------------------------------------------------------
@SETTINGS
@given(vectors)
def test_hoyer_in_unit_interval(v: np.ndarray) -> None:
    h = float(metrics.hoyer(torch.from_numpy(v)))
    assert 0.0 <= h <= 1.0


@SETTINGS
@given(vectors, st.floats(1e-2, 1e2))
def test_scale_invariance(v: np.ndarray, scale: float) -> None:
    x = torch.from_numpy(v).double()
    for fn in (metrics.hoyer, metrics.gini):
        assert_close(fn(x * scale), fn(x), atol=1e-5, rtol=1e-5)


@SETTINGS
@given(nonneg_vectors, st.data())
def test_gini_grows_when_mass_moves_to_larger_entry(v: np.ndarray, data: st.DataObject) -> None:
    """Reversed Robin Hood: taking from a smaller entry and giving to a larger one (keeping the
    order) cannot decrease the Gini index."""
    c = np.sort(v.astype(np.float64))
    i = data.draw(st.integers(0, len(c) - 2))
    j = data.draw(st.integers(i + 1, len(c) - 1))
    amount = c[i] * data.draw(st.floats(0.0, 1.0))
    moved = c.copy()
    moved[i] -= amount
    moved[j] += amount
    before = float(metrics.gini(torch.from_numpy(c)))
    after = float(metrics.gini(torch.from_numpy(moved)))
    assert after >= before - 1e-6


@SETTINGS
@given(vectors)
def test_gini_matches_hurley_rickard_numpy(v: np.ndarray) -> None:
    if not _nonzero(v):
        return
    assert math.isclose(float(metrics.gini(torch.from_numpy(v))), gini_numpy(v), abs_tol=1e-5)
    assert math.isclose(float(metrics.hoyer(torch.from_numpy(v))), hoyer_numpy(v), abs_tol=1e-4)


@SETTINGS
@given(
    st.lists(st.integers(0, 20), min_size=1, max_size=12),
    st.lists(st.just(0.0) | st.floats(1e-6, 1e3), min_size=12, max_size=12),
)
def test_gini_from_histogram_equals_expanded(counts: list[int], values: list[float]) -> None:
    vals = np.sort(np.asarray(values[: len(counts)]))
    expanded = np.repeat(vals, counts)
    got = metrics.gini_from_histogram(torch.tensor(counts), torch.from_numpy(vals))
    if len(expanded) == 0:  # no values: no Gini index
        assert math.isnan(got)
        return
    if expanded.sum() == 0:
        assert got == 1.0
        return
    assert math.isclose(got, float(metrics.gini(torch.from_numpy(expanded))), abs_tol=1e-6)


@SETTINGS
@given(arrays(np.float64, st.integers(4, 60), elements=st.floats(-1e3, 1e3)))
def test_kurtosis_matches_scipy(v: np.ndarray) -> None:
    if v.std() < 1e-3 * max(np.abs(v).max(), 1.0):  # near-constant: both sides are noise
        return
    expected = scipy.stats.kurtosis(v, fisher=True, bias=True)
    got = float(metrics.kurtosis(torch.from_numpy(v)))
    assert math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-4)


def test_kurtosis_batched_matches_scipy() -> None:
    x = torch.randn(5, 200, dtype=torch.float64) ** 3
    expected = scipy.stats.kurtosis(x.numpy(), axis=1, fisher=True, bias=True)
    assert_close(metrics.kurtosis(x), torch.from_numpy(expected).float())


# -- simple fractions against numpy ----------------------------------------------------------
@SETTINGS
@given(vectors, st.sampled_from([0.0, 1e-3, 0.5, 10.0]))
def test_density_matches_numpy(v: np.ndarray, threshold: float) -> None:
    expected = float(np.mean(np.abs(v) > threshold))
    assert math.isclose(
        float(metrics.density(torch.from_numpy(v), threshold=threshold)), expected, rel_tol=1e-6
    )


@SETTINGS
@given(vectors, st.sampled_from([1e-3, 1e-2, 0.5, 10.0]))
def test_near_zero_fraction_matches_numpy(v: np.ndarray, eps: float) -> None:
    expected = float(np.mean(np.abs(v) < np.float32(eps)))
    assert math.isclose(
        float(metrics.near_zero_fraction(torch.from_numpy(v), eps)), expected, rel_tol=1e-6
    )


@pytest.mark.parametrize("group", [1, 2, 8, 64])
@pytest.mark.parametrize("rows", [64, 100, 130])
def test_union_density_matches_numpy(group: int, rows: int) -> None:
    gen = torch.Generator().manual_seed(rows * group)
    active = torch.rand(rows, 32, generator=gen) < 0.05
    a = active.numpy()
    n_groups = rows // group
    expected = a[: n_groups * group].reshape(n_groups, group, -1).any(axis=1).mean()
    assert_close(metrics.union_density(active, group), torch.tensor(expected, dtype=torch.float32))


def test_union_density_too_few_rows_is_nan() -> None:
    assert math.isnan(float(metrics.union_density(torch.ones(3, 4, dtype=torch.bool), 8)))


def test_treves_rolls_from_norms_matches_direct() -> None:
    x = torch.randn(6, 30).relu()
    l1, l2sq = x.abs().sum(-1), (x * x).sum(-1)
    assert_close(metrics.treves_rolls_from_norms(l1, l2sq, 30), metrics.treves_rolls(x))
    assert_close(metrics.hoyer_from_norms(l1, l2sq.sqrt(), 30), metrics.hoyer(x))


# -- issue 15.6: tiny activations and NaN ------------------------------------------------------
def _digits_rows() -> torch.Tensor:
    from sklearn.datasets import load_digits

    return torch.tensor(load_digits().data[:64], dtype=torch.float32) / 16  # (64, 64), many 0


@pytest.mark.parametrize("scale", [1e-12, 1e-20, 1e-30, 1e20])
@pytest.mark.parametrize("fn", [metrics.treves_rolls, metrics.hoyer, metrics.gini])
def test_measures_are_scale_invariant_for_tiny_and_huge_activations(fn, scale: float) -> None:
    x = _digits_rows()
    assert_close(fn(x * scale), fn(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn", [metrics.treves_rolls, metrics.hoyer, metrics.gini])
def test_nan_vector_gives_nan_not_a_sparsity(fn) -> None:
    out = fn(torch.tensor([[float("nan")] * 4, [0.0, 0.0, 1.0, 0.0]]))
    assert math.isnan(float(out[0])) and not math.isnan(float(out[1]))


def test_gini_from_histogram_of_no_values_is_nan() -> None:
    assert math.isnan(metrics.gini_from_histogram(torch.zeros(3), torch.tensor([0.0, 1.0, 2.0])))
    assert metrics.gini_from_histogram(torch.tensor([5, 0]), torch.tensor([0.0, 1.0])) == 1.0
