"""MagnitudeThreshold and its placement on a model: values, state_dict keys, hooks, copies."""

from __future__ import annotations

import copy
import io

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.testing import assert_close

import actsparse
from actsparse.induce.insert import (
    insert_threshold,
    inserted_thresholds,
    remove_threshold,
    threshold_module_name,
)
from actsparse.induce.magnitude import MagnitudeThreshold


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.GELU(), nn.Linear(16, 3))


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=40),
    threshold=st.floats(0, 5),
)
def test_keeps_exactly_the_values_above_the_threshold(
    values: list[float], threshold: float
) -> None:
    x = torch.tensor(values)
    t = float(torch.tensor(threshold))  # the buffer is float32
    y = MagnitudeThreshold(threshold)(x)
    for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
        assert yi == (xi if abs(xi) > t else 0.0)


def test_per_feature_thresholds_apply_along_the_last_dimension() -> None:
    m = MagnitudeThreshold(torch.tensor([0.0, 1.0, 3.0]))
    x = torch.tensor([[0.5, 0.5, 0.5], [2.0, -2.0, -2.0]])
    assert_close(m(x), torch.tensor([[0.5, 0.0, 0.0], [2.0, -2.0, 0.0]]))
    assert "per-feature (3,)" in repr(m)


def test_bad_thresholds_are_refused() -> None:
    for bad in (-0.1, float("nan"), float("inf"), torch.tensor([0.1, -1.0])):
        with pytest.raises(ValueError, match="threshold must be finite and >= 0"):
            MagnitudeThreshold(bad)


def test_gradient_flows_to_kept_values_only() -> None:
    x = torch.tensor([-2.0, 0.1, 3.0], requires_grad=True)
    MagnitudeThreshold(0.5)(x).sum().backward()
    assert x.grad is not None
    assert x.grad.tolist() == [1.0, 0.0, 1.0]


@pytest.mark.parametrize("layer", ["1", "2:input"])
def test_insert_changes_the_output_and_remove_restores_it(layer: str) -> None:
    net, x = mlp(), torch.randn(32, 6)
    dense = net(x)
    keys = list(net.state_dict())
    thr = insert_threshold(net, layer, 0.3)
    assert dict(net.named_modules())[threshold_module_name(layer)] is thr
    assert not torch.equal(net(x), dense)
    remove_threshold(net, layer)
    assert torch.equal(net(x), dense)
    assert list(net.state_dict()) == keys
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())


def test_input_threshold_equals_thresholding_the_input_by_hand() -> None:
    net, x = mlp(), torch.randn(32, 6)
    insert_threshold(net, "2:input", 0.2)
    h = net[1](net[0](x))
    expected = nn.functional.linear(h * (h.abs() > 0.2), net[2].weight, net[2].bias)
    assert_close(net(x), expected)


def test_original_checkpoint_loads_strictly_and_keeps_the_threshold() -> None:
    net = mlp()
    original = copy.deepcopy(net.state_dict())
    insert_threshold(net, "2:input", 0.25)
    net.load_state_dict(original, strict=True)
    assert float(net[2].input_threshold.threshold) == 0.25
    saved = net.state_dict()
    assert "2.input_threshold.threshold" in saved
    other = mlp()
    insert_threshold(other, "2:input", 0.0)
    other.load_state_dict(saved)
    assert float(other[2].input_threshold.threshold) == 0.25


def test_deepcopy_and_pickle_keep_working_thresholds() -> None:
    net, x = mlp(), torch.randn(8, 6)
    insert_threshold(net, "1", 0.5)
    expected = net(x)
    clone = copy.deepcopy(net)
    buffer = io.BytesIO()
    torch.save(net, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    for model in (clone, loaded):
        assert_close(model(x), expected)
        remove_threshold(model, "1")
        assert not torch.equal(model(x), expected)
    assert_close(net(x), expected)  # the original keeps its threshold


def test_the_profiler_finds_inserted_thresholds_by_default() -> None:
    net = mlp()
    insert_threshold(net, "2:input", 10.0)  # keeps nothing
    prof = actsparse.profile(net, [torch.randn(16, 6)])
    assert prof.names == ["1", "2.input_threshold"]
    assert prof["2.input_threshold"].density == 0.0
    assert inserted_thresholds(net) == {"2:input": net[2].input_threshold}


def test_inserting_twice_replaces_the_value() -> None:
    net = mlp()
    first = insert_threshold(net, "2:input", 0.1)
    second = insert_threshold(net, "2:input", 0.4)
    assert first is second and float(second.threshold) == pytest.approx(0.4)
    assert len(net[2]._forward_pre_hooks) == 1


def test_placement_errors_name_the_problem() -> None:
    net = mlp()
    with pytest.raises(ValueError, match="no module 'fc9'"):
        insert_threshold(net, "fc9:input", 0.1)
    with pytest.raises(ValueError, match="Sequential"):
        insert_threshold(net, "", 0.1)
    seq = nn.Sequential(nn.LSTM(4, 4))
    insert_threshold(seq, "0", 0.1)
    with pytest.raises(TypeError, match="returns tuple, not a tensor"):
        seq(torch.randn(2, 3, 4))
