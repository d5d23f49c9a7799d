"""TopK: keeps the k largest (or largest |x|), identity straight-through gradient, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import actsparse
from actsparse.induce.topk import TopK


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("magnitude", [False, True])
def test_keeps_exactly_the_k_largest(dim: int, magnitude: bool) -> None:
    x = torch.randn(6, 7, 8)
    y = TopK(3, dim=dim, magnitude=magnitude)(x)
    assert ((y != 0).sum(dim=dim) == 3).all()
    scores = x.abs() if magnitude else x
    kth = scores.topk(3, dim=dim).values.narrow(dim, 2, 1)
    torch.testing.assert_close(y, torch.where(scores >= kth, x, 0.0))


def test_magnitude_keeps_negative_values() -> None:
    x = torch.tensor([[0.25, -4.0, 2.0, -0.5]])
    assert TopK(2, magnitude=True)(x).tolist() == [[0.0, -4.0, 2.0, 0.0]]
    assert TopK(2)(x).tolist() == [[0.25, 0.0, 2.0, 0.0]]


def test_straight_through_gradient_reaches_every_entry() -> None:
    x = torch.randn(4, 10, requires_grad=True)
    g = torch.randn(4, 10)
    y = TopK(2)(x)
    y.backward(g)
    assert x.grad is not None
    torch.testing.assert_close(x.grad, g)  # identity: the zeroed entries get it too
    assert ((y != 0).sum(dim=1) == 2).all()


def test_errors_and_repr() -> None:
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        TopK(0)
    with pytest.raises(TypeError, match="k must be an int"):
        TopK(2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot keep 5 entries of 4 along dim -1"):
        TopK(5)(torch.randn(2, 4))
    with pytest.raises(ValueError, match="dim=3"):
        TopK(1, dim=3)(torch.randn(2, 4))
    assert repr(TopK(4, dim=1, magnitude=True)) == "TopK(k=4, dim=1, magnitude=True)"


def test_profiler_finds_topk_and_measures_k_over_n() -> None:
    net = nn.Sequential(nn.Linear(5, 20), TopK(4))
    prof = actsparse.profile(net, [torch.randn(32, 5) for _ in range(2)])
    assert prof.names == ["1"]
    assert prof["1"].density == pytest.approx(4 / 20)
