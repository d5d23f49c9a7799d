"""ThresholdReLU: scalar and per-channel thresholds, gradients, shape checks, the profiler."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import actsparse
from actsparse.induce.threshold import ThresholdReLU


def test_scalar_threshold_keeps_values_above_unchanged() -> None:
    x = torch.tensor([-2.0, 0.0, 0.3, 0.5, 0.50001, 3.0])
    y = ThresholdReLU(0.5)(x)
    assert y.tolist() == [0.0, 0.0, 0.0, 0.0, pytest.approx(0.50001), 3.0]
    x = torch.randn(5, 6, 7)
    torch.testing.assert_close(ThresholdReLU(0.0)(x), torch.relu(x))


@pytest.mark.parametrize(("shape", "channel_dim"), [((4, 3, 5, 5), 1), ((2, 7, 3), -1),
                                                    ((2, 7, 3), 2)])
def test_per_channel_thresholds(shape: tuple[int, ...], channel_dim: int) -> None:
    c = shape[channel_dim]
    t = torch.linspace(-0.5, 1.0, c)
    act = ThresholdReLU(t, channel_dim=channel_dim)
    assert act.num_channels == c
    x = torch.randn(*shape)
    view = [1] * len(shape)
    view[channel_dim] = c
    torch.testing.assert_close(act(x), torch.where(x > t.view(view), x, 0.0))


def test_scalar_repeated_over_num_channels_and_buffer() -> None:
    act = ThresholdReLU(0.25, num_channels=3)
    assert act.threshold.tolist() == [0.25] * 3
    assert "threshold" in act.state_dict() and not list(act.parameters())
    act.threshold.copy_(torch.tensor([0.0, 1.0, 2.0]))  # recalibrate in place
    assert act(torch.full((1, 3), 1.5)).tolist() == [[1.5, 1.5, 0.0]]


def test_gradient_passes_where_above_threshold() -> None:
    x = torch.tensor([-1.0, 0.2, 0.8, 2.0], requires_grad=True)
    ThresholdReLU(0.5)(x).sum().backward()
    assert x.grad is not None
    assert x.grad.tolist() == [0.0, 0.0, 1.0, 1.0]


def test_nan_propagates_like_relu() -> None:
    y = ThresholdReLU(0.5)(torch.tensor([float("nan"), 1.0]))
    assert torch.isnan(y[0]) and y[1] == 1.0


def test_validation_errors_and_repr() -> None:
    with pytest.raises(ValueError, match="3 values but num_channels=4"):
        ThresholdReLU([0.1, 0.2, 0.3], num_channels=4)
    with pytest.raises(ValueError, match="1-D tensor"):
        ThresholdReLU(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="NaN"):
        ThresholdReLU(float("nan"))
    with pytest.raises(ValueError, match="num_channels must be at least 1"):
        ThresholdReLU(0.1, num_channels=0)
    act = ThresholdReLU([0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="3 channel thresholds but the input has 4 channels in "
                                         "dim 1 \\(shape \\(2, 4\\)\\)"):
        act(torch.randn(2, 4))
    with pytest.raises(ValueError, match="only 1 dimensions"):
        ThresholdReLU([0.1, 0.2], channel_dim=1)(torch.randn(2))
    assert repr(ThresholdReLU(0.5)) == "ThresholdReLU(threshold=0.5)"
    assert repr(act) == "ThresholdReLU(num_channels=3, channel_dim=1)"


def test_profiler_finds_threshold_relu() -> None:
    net = nn.Sequential(nn.Linear(4, 16), ThresholdReLU(0.3))
    batches = [torch.randn(64, 4) for _ in range(2)]
    prof = actsparse.profile(net, batches)
    assert prof.names == ["1"]
    with torch.no_grad():
        expected = torch.cat([net(b) for b in batches])
    assert prof["1"].density == pytest.approx((expected != 0).float().mean().item())
