"""LISTA: starts as ISTA exactly, training brings held-out digits closer to the lasso optimum."""

from __future__ import annotations

import pytest
import torch

from actsparse import zoo
from actsparse.interpret.lista import LISTA
from actsparse.interpret.sparse_coding import lasso_objective, sparse_encode

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Train and test digits, and 48 unit-norm atoms taken from other training digits."""
    x = zoo.load_data("digits", split="train", limit=648).images.reshape(-1, 64)
    atoms = x[:48] / x[:48].norm(dim=1, keepdim=True)
    test = zoo.load_data("digits", split="test", limit=200).images.reshape(-1, 64)
    return x[48:], test, atoms


@pytest.mark.parametrize("structure", ["coupled", "classic"])
@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("n_layers", [1, 4])
def test_untrained_lista_is_exactly_n_ista_steps(structure, positive, n_layers):
    g = torch.Generator().manual_seed(0)
    D = torch.randn(12, 6, generator=g, dtype=torch.float64)
    X = torch.randn(20, 6, generator=g, dtype=torch.float64)
    enc = LISTA(D, alpha=0.3, n_layers=n_layers, positive=positive, structure=structure)
    ista = sparse_encode(X, D, algorithm="ista", alpha=0.3, max_iter=n_layers, tol=0.0,
                         positive=positive, polish=False)
    torch.testing.assert_close(enc(X), ista, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("structure", ["coupled", "classic"])
def test_training_on_the_objective_helps_held_out_digits(digits, structure):
    train, test, D = digits
    enc = LISTA(D, alpha=0.2, n_layers=3, structure=structure)
    with torch.no_grad():
        before = float(enc.objective(test).mean())
    enc.fit(train, epochs=15, lr=3e-3)
    with torch.no_grad():
        after = float(enc.objective(test).mean())
    optimum = float(lasso_objective(test, sparse_encode(test, D, alpha=0.2), D, 0.2).mean())
    assert optimum < after < before
    assert after - optimum < 0.5 * (before - optimum)  # more than halves the gap to the optimum
    assert enc.loss_history_[-1] < enc.loss_history_[0] and len(enc.loss_history_) == 15


def test_mse_training_reproduces_the_solver_codes(digits):
    train, _, D = digits
    codes = sparse_encode(train, D, alpha=0.2)
    enc = LISTA(D, alpha=0.2, n_layers=3)
    with torch.no_grad():
        before = float(torch.nn.functional.mse_loss(enc(train), codes))
    enc.fit(train, codes, loss="mse", epochs=10, lr=3e-3)
    with torch.no_grad():
        after = float(torch.nn.functional.mse_loss(enc(train), codes))
    assert after < 0.5 * before


def test_seeded_training_is_reproducible(digits):
    train, _, D = digits
    def fit(seed: int) -> torch.Tensor:
        return LISTA(D, alpha=0.2, n_layers=2).fit(train[:200], epochs=2, seed=seed).W.detach()
    torch.testing.assert_close(fit(0), fit(0), rtol=0, atol=0)
    assert not torch.equal(fit(0), fit(1))


def test_module_basics():
    enc = LISTA(torch.eye(3), alpha=0.1, n_layers=2, structure="classic")
    assert "n_layers=2" in repr(enc) and "structure=classic" in repr(enc)
    assert {n for n, _ in enc.named_parameters()} == {"W_e", "S", "theta"}
    assert enc(torch.randn(5, 3)).shape == (5, 3)
    state = enc.state_dict()
    assert "dictionary" in state  # a buffer: saved and moved with the module, not trained


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"n_layers": 0}, "n_layers must be an integer >= 1"),
        ({"alpha": -1.0}, "alpha must be a finite number >= 0"),
        ({"structure": "tied"}, "unknown structure 'tied'; choose one of coupled, classic"),
        ({"dictionary": torch.zeros(3, 3)}, "the dictionary is all zeros"),
        ({"dictionary": torch.zeros(3)}, "dictionary must be 2-D"),
    ],
)
def test_bad_construction_gets_a_clear_error(kwargs, message):
    args = {"dictionary": torch.eye(3), "alpha": 0.1, **kwargs}
    with pytest.raises(ValueError, match=message):
        LISTA(**args)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"lr": 0.0}, "lr must be a finite number > 0"),
        ({"loss": "l1"}, "unknown loss 'l1'; choose one of objective, mse"),
        ({"X": torch.randn(8, 4)}, r"dictionary must have shape \(n_components, n_features=4\)"),
        ({"codes": torch.zeros(8, 2), "loss": "mse"}, r"codes must have shape \(8, 3\)"),
    ],
)
def test_bad_fit_arguments_get_a_clear_error(kwargs, message):
    args = {"X": torch.randn(8, 3), **kwargs}
    with pytest.raises(ValueError, match=message):
        LISTA(torch.eye(3), alpha=0.1).fit(args.pop("X"), **args)
