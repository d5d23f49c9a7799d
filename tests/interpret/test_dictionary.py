"""DictionaryLearning: learns on real digits, reproducible, sklearn-like verbs, clear errors."""

from __future__ import annotations

import warnings

import pytest
import torch
from sklearn.decomposition import MiniBatchDictionaryLearning

from actsparse import zoo
from actsparse.interpret.dictionary import DictionaryLearning
from actsparse.interpret.sparse_coding import lasso_objective, sparse_encode

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    train = zoo.load_data("digits", split="train", limit=600).images.reshape(-1, 64)
    test = zoo.load_data("digits", split="test", limit=200).images.reshape(-1, 64)
    return train, test


def _objective(X: torch.Tensor, D: torch.Tensor, alpha: float) -> float:
    return float(lasso_objective(X, sparse_encode(X, D, alpha=alpha), D, alpha).mean())


def test_fit_learns_unit_atoms_that_beat_the_initial_ones_on_held_out_digits(digits):
    train, test = digits
    start = DictionaryLearning(32, alpha=0.2, n_epochs=0, random_state=0).fit(train)
    dl = DictionaryLearning(32, alpha=0.2, batch_size=100, n_epochs=5, random_state=0)
    codes = dl.fit_transform(train)
    assert dl.components_.shape == (32, 64) and codes.shape == (600, 32)
    torch.testing.assert_close(dl.components_.norm(dim=1), torch.ones(32))
    assert dl.n_iter_ == 5 and dl.n_steps_ == 30 and len(dl.error_) == 5
    assert dl.error_[-1] < dl.error_[0]
    assert _objective(test, dl.components_, 0.2) < 0.9 * _objective(test, start.components_, 0.2)


def test_final_objective_is_close_to_sklearn_minibatch(digits):
    train, test = digits
    ours = DictionaryLearning(16, alpha=0.2, batch_size=100, n_epochs=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = MiniBatchDictionaryLearning(16, alpha=0.2, batch_size=100, max_iter=5, tol=0.0,
                                             max_no_improvement=None, random_state=0)
        theirs.fit(train.double().numpy())
    sk_atoms = torch.from_numpy(theirs.components_).float()
    assert _objective(test, ours.fit(train).components_, 0.2) <= \
        1.05 * _objective(test, sk_atoms, 0.2)


def test_random_state_makes_fits_reproducible(digits):
    train, _ = digits
    def fit(seed: int) -> torch.Tensor:
        return DictionaryLearning(8, alpha=0.3, batch_size=128, n_epochs=2,
                                  random_state=seed).fit(train).components_
    torch.testing.assert_close(fit(1), fit(1), rtol=0, atol=0)
    assert not torch.allclose(fit(1), fit(2))


def test_partial_fit_streams_batches(digits):
    train, _ = digits
    dl = DictionaryLearning(8, alpha=0.3, random_state=0)
    for i in range(0, 600, 200):
        dl.partial_fit(train[i:i + 200])
    assert dl.n_steps_ == 3 and len(dl.error_) == 3 and dl.components_.shape == (8, 64)
    with pytest.raises(ValueError, match="X has 10 features; the model was fitted on 64"):
        dl.partial_fit(torch.zeros(4, 10))


def test_unused_atoms_are_replaced_by_data_samples(digits):
    train, _ = digits
    X = train[:50]
    dl = DictionaryLearning(6, alpha=1e6, random_state=0).partial_fit(X)  # every code is zero
    cosine = dl.components_ @ (X / X.norm(dim=1, keepdim=True)).T  # (6, 50)
    assert bool((cosine.max(dim=1).values > 0.99).all())


def test_transform_options(digits):
    train, test = digits
    dl = DictionaryLearning(16, alpha=0.2, n_epochs=1, random_state=0, positive_code=True,
                            transform_alpha=0.5).fit(train)
    codes = dl.transform(test)
    assert bool((codes >= 0).all())
    expected = sparse_encode(test, dl.components_, alpha=0.5, positive=True)
    torch.testing.assert_close(codes, expected)
    dl.transform_algorithm, dl.transform_n_nonzero_coefs = "omp", 3
    dl.positive_code = False
    assert int((dl.transform(test) != 0).sum(1).max()) == 3


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"n_components": 0}, "n_components must be an integer >= 1"),
        ({"alpha": -1.0}, "alpha must be a finite number >= 0"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"n_epochs": -1}, "n_epochs must be an integer >= 0"),
        ({"transform_algorithm": "lars"}, "unknown transform_algorithm 'lars'"),
        ({"fit_algorithm": "omp"}, "unknown fit_algorithm 'omp'"),
        ({"transform_alpha": float("inf")}, "transform_alpha must be a finite number"),
    ],
)
def test_bad_parameters_get_a_clear_error(kwargs, message):
    params = {"n_components": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        DictionaryLearning(**params).fit(torch.rand(20, 5))


def test_bad_data_gets_a_clear_error():
    dl = DictionaryLearning(4)
    with pytest.raises(RuntimeError, match="not fitted yet"):
        dl.transform(torch.rand(3, 5))
    with pytest.raises(ValueError, match="X must be 2-D"):
        dl.fit(torch.rand(5))
    with pytest.raises(ValueError, match="X contains NaN"):
        dl.fit(torch.tensor([[1.0, float("nan")]]))
    dl.fit(torch.rand(20, 5))
    with pytest.raises(ValueError, match=r"dictionary must have shape \(n_components, n_fea"):
        dl.transform(torch.rand(3, 6))
