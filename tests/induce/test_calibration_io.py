"""save_calibration / load_calibration: thresholds and selection rule round-trip via safetensors."""

from __future__ import annotations

import copy

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from actsparse.induce.calibrate import calibrate_thresholds
from actsparse.induce.calibration_io import load_calibration, save_calibration
from actsparse.induce.insert import inserted_thresholds


def mlp() -> tuple[nn.Module, list[torch.Tensor]]:
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(12, 64), nn.GELU(), nn.Linear(64, 32), nn.GELU(),
                        nn.Linear(32, 3))
    return net, [torch.randn(128, 12) for _ in range(3)]


@pytest.mark.parametrize("rule", ["magnitude", "weight"])
def test_save_load_keeps_the_rule_thresholds_and_outputs(tmp_path, rule) -> None:
    net, data = mlp()
    fresh = copy.deepcopy(net)  # the same weights, no thresholds
    cal = calibrate_thresholds(net, data, target_density=0.4, layers=["2", "4"], on="input",
                               rule=rule)
    path = save_calibration(cal, tmp_path / "thr.safetensors")
    expected = net(data[0])
    back = load_calibration(fresh, path)
    assert back.rule == rule
    assert back.layers == cal.layers
    for name, module in back.modules().items():
        assert torch.equal(module.threshold, cal.modules()[name].threshold)
    assert torch.equal(fresh(data[0]), expected)
    assert back.to_dict() == cal.to_dict()
    back.remove()
    cal.remove()
    assert not inserted_thresholds(fresh)
    assert torch.equal(fresh(data[0]), net(data[0]))


def test_load_refuses_other_files_a_thresholded_model_and_wrong_shapes(tmp_path) -> None:
    net, data = mlp()
    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a calibration file"):
        load_calibration(net, tmp_path / "other.safetensors")
    cal = calibrate_thresholds(net, data, target_density=0.5, layers="2", on="input",
                               rule="weight")
    path = save_calibration(cal, tmp_path / "thr.safetensors")
    with pytest.raises(ValueError, match="already has thresholds"):
        load_calibration(net, path)
    cal.remove()
    with pytest.raises(ValueError, match="save before calling remove"):
        save_calibration(cal, tmp_path / "again.safetensors")
    narrow = nn.Sequential(nn.Linear(12, 16), nn.GELU(), nn.Linear(16, 3))
    with pytest.raises(ValueError, match="has 16 input features, the saved threshold 64"):
        load_calibration(narrow, path)
    assert not inserted_thresholds(narrow)
