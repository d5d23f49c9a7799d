"""calibrate_thresholds(rule=...): the weight-aware rule hits its densities and scores by hand."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from actsparse import zoo
from actsparse.induce.calibrate import calibrate_thresholds
from actsparse.induce.insert import inserted_thresholds
from actsparse.induce.selection import column_norms

MINILM_MLP = "encoder.layer.?.output.dense"


def random_mlp() -> tuple[nn.Module, list[torch.Tensor], list[torch.Tensor]]:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(16, 96), nn.GELU(), nn.Linear(96, 48), nn.GELU(),
                        nn.Linear(48, 4))
    with torch.no_grad():  # uneven column norms, so the two rules keep different inputs
        net[2].weight.mul_(torch.rand(96) * 3)
        net[4].weight.mul_(torch.rand(48) * 3)
    return net, [torch.randn(256, 16) for _ in range(4)], [torch.randn(512, 16)]


@pytest.mark.parametrize("rule", ["magnitude", "weight"])
@pytest.mark.parametrize("target", [0.6, 0.25])
def test_random_inputs_hit_the_target_density_under_each_rule(rule, target) -> None:
    net, train, test = random_mlp()
    cal = calibrate_thresholds(net, train, target_density=target, layers=["2", "4"],
                               on="input", rule=rule)
    try:
        assert cal.rule == rule and cal.to_dict()["rule"] == rule
        for layer in cal.layers.values():
            assert layer.density == pytest.approx(target, abs=0.005)
        for name, density in cal.measure(test).items():
            assert density == pytest.approx(target, abs=0.02), name
        shape = tuple(net[2].input_threshold.threshold.shape)
        assert shape == ((96,) if rule == "weight" else ())
    finally:
        cal.remove()
    assert not inserted_thresholds(net)


def test_the_weight_rule_equals_a_hand_computation_on_a_tiny_linear() -> None:
    lin = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        lin.weight[:] = torch.tensor([[3.0, 0.0, 0.6], [4.0, 0.5, 0.8]])  # norms 5, 0.5, 1
    net = nn.Sequential(lin)
    x = torch.tensor([[0.1, 2.0, 0.45]]).repeat(100, 1)  # scores 0.5, 1.0, 0.45
    x = x * (1 + 0.01 * torch.arange(100.0)).unsqueeze(1)  # spread the values a little
    assert torch.allclose(column_norms(lin), torch.tensor([5.0, 0.5, 1.0]))
    cal = calibrate_thresholds(net, [x], target_density=2 / 3, layers="0", on="input",
                               rule="weight")
    try:
        scores = x.abs() * torch.tensor([5.0, 0.5, 1.0])
        t = cal.layers["0:input"].threshold
        kept = scores > t
        assert kept.float().mean() == pytest.approx(2 / 3, abs=0.01)
        # the threshold module keeps exactly the inputs whose score is above t
        thresholded = net[0].input_threshold(x)
        assert torch.equal(thresholded != 0, kept)
        assert torch.allclose(net[0].input_threshold.threshold,
                              torch.tensor([t / 5.0, t / 0.5, t / 1.0]))
        # by magnitude the first feature (|x| <= 0.2) would go first; by weight the third
        assert kept[:, 0].float().mean() > 0.5 > kept[:, 2].float().mean()
    finally:
        cal.remove()


def test_the_weight_rule_needs_linear_inputs_and_a_known_rule() -> None:
    net, train, _ = random_mlp()
    with pytest.raises(ValueError, match="rule='weight' scores a Linear layer's inputs"):
        calibrate_thresholds(net, train, target_density=0.5, layers="1", rule="weight")
    with pytest.raises(ValueError, match="rule must be one of"):
        calibrate_thresholds(net, train, target_density=0.5, layers="2", on="input",
                             rule="wina")  # type: ignore[arg-type]
    assert not inserted_thresholds(net)


def test_weight_rule_greedy_keeps_the_mean() -> None:
    net, train, _ = random_mlp()
    cal = calibrate_thresholds(net, train, target_density=0.4, layers=["2", "4"], on="input",
                               rule="weight", greedy=True, greedy_step=0.2)
    try:
        assert sum(cal.densities.values()) / 2 == pytest.approx(0.4, abs=0.005)
        assert cal.greedy_forwards > 0
    finally:
        cal.remove()


def test_minilm_weight_rule_held_out_density_per_layer(minilm: zoo.ZooModel) -> None:
    train = zoo.load_data("text", split="train", limit=24)
    test = zoo.load_data("text", split="test", limit=16)
    cal = calibrate_thresholds(minilm.module, minilm.batches(train, batch_size=8),
                               target_density=0.5, layers=MINILM_MLP, on="input", rule="weight")
    try:
        assert len(cal.layers) == 6
        held_out = cal.measure(minilm.batches(test, batch_size=8))
        for name, density in held_out.items():
            assert density == pytest.approx(0.5, abs=0.02), name
    finally:
        cal.remove()
    assert not inserted_thresholds(minilm.module)
