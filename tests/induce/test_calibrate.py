"""calibrate_thresholds: held-out densities on real data, exact removal, errors, greedy."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import Tensor, nn

from actsparse import zoo
from actsparse.induce.allocate import greedy_densities
from actsparse.induce.calibrate import calibrate_thresholds
from actsparse.induce.insert import inserted_thresholds
from actsparse.induce.magnitude import MagnitudeThreshold

MINILM_MLP = "encoder.layer.?.output.dense"  # its input is the GELU output


@pytest.fixture(scope="module")
def digits_mlp() -> tuple[nn.Module, list[Tensor], list[Tensor]]:
    """A small GELU MLP trained briefly on the digits train split; batches of train and test."""
    torch.manual_seed(0)
    train, test = zoo.load_data("digits", "train"), zoo.load_data("digits", "test")
    x, y = train.images.flatten(1), train.labels
    net = nn.Sequential(nn.Linear(64, 128), nn.GELU(), nn.Linear(128, 64), nn.GELU(),
                        nn.Linear(64, 10))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(40):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    net.eval()
    return net, list(x.split(256)), list(test.images.flatten(1).split(128))


@pytest.mark.parametrize("on, layers", [("output", None), ("input", ["2", "4"])])
@pytest.mark.parametrize("target", [0.5, 0.2])
def test_held_out_density_hits_the_target(digits_mlp, on, layers, target) -> None:
    net, train, test = digits_mlp
    cal = calibrate_thresholds(net, train, target_density=target, layers=layers, on=on)
    try:
        expected = ["1", "3"] if on == "output" else ["2:input", "4:input"]
        assert list(cal.layers) == expected
        for layer in cal.layers.values():
            assert layer.density == pytest.approx(target, abs=0.005)
        held_out = cal.measure(test)
        for name, density in held_out.items():
            assert density == pytest.approx(target, abs=0.02), name
    finally:
        cal.remove()


def test_remove_restores_outputs_state_dict_and_hooks_exactly(digits_mlp) -> None:
    net, train, test = digits_mlp
    before_out = net(test[0])
    before_state = copy.deepcopy(net.state_dict())
    cal = calibrate_thresholds(net, train, target_density=0.3, layers=["2", "4"], on="input")
    assert not torch.equal(net(test[0]), before_out)
    cal.remove()
    assert torch.equal(net(test[0]), before_out)
    after_state = net.state_dict()
    assert list(after_state) == list(before_state)
    assert all(torch.equal(after_state[k], v) for k, v in before_state.items())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())
    assert not net.training  # modes as they came
    cal.remove()  # a second remove is harmless


def test_thresholds_are_visible_modules_with_the_calibrated_value(digits_mlp) -> None:
    net, train, _ = digits_mlp
    cal = calibrate_thresholds(net, train, target_density={"2": 0.4, "4:input": 0.6}, on="input")
    try:
        assert isinstance(net[2].input_threshold, MagnitudeThreshold)
        assert float(net[2].input_threshold.threshold) == pytest.approx(
            cal.layers["2:input"].threshold)
        assert "2.input_threshold.threshold" in net.state_dict()
        assert set(inserted_thresholds(net)) == {"2:input", "4:input"}
        assert cal.layers["2:input"].target == 0.4 and cal.layers["4:input"].target == 0.6
        assert cal.densities["4:input"] == pytest.approx(0.6, abs=0.005)
        assert cal.modules()["4:input"] is net[4].input_threshold
    finally:
        cal.remove()


def test_greedy_keeps_the_mean_and_does_no_worse_than_uniform(digits_mlp) -> None:
    net, train, test = digits_mlp
    reference = net(test[0])

    def error(cal) -> float:
        try:
            with torch.no_grad():
                return float((net(test[0]) - reference).square().mean())
        finally:
            cal.remove()

    uniform = calibrate_thresholds(net, train, target_density=0.3, layers=["2", "4"], on="input")
    uniform_error = error(uniform)
    greedy = calibrate_thresholds(net, train, target_density=0.3, layers=["2", "4"], on="input",
                                  greedy=True, greedy_batches=2)
    targets = [layer.target for layer in greedy.layers.values()]
    densities = list(greedy.densities.values())
    assert sum(targets) / 2 == pytest.approx(0.3)
    assert sum(densities) / 2 == pytest.approx(0.3, abs=0.005)
    assert greedy.greedy_forwards > 0
    assert error(greedy) <= uniform_error * 1.05


def test_greedy_allocation_thins_the_cheap_layer_first() -> None:
    errors = {"cheap": [(0.75, 0.01), (0.5, 0.02), (0.25, 0.05)],
              "costly": [(0.75, 0.5), (0.5, 1.0), (0.25, 2.0)]}
    out = greedy_densities(errors, 0.5, {"cheap": 1.0, "costly": 1.0})
    assert out == {"cheap": 0.25, "costly": 0.75}
    assert greedy_densities(errors, 1.0, {"cheap": 1.0, "costly": 1.0}) == {
        "cheap": 1.0, "costly": 1.0}


@pytest.mark.parametrize("bad", [0.0, -0.2, 1.5, float("nan")])
def test_target_outside_the_unit_interval_is_an_error(digits_mlp, bad) -> None:
    net, train, _ = digits_mlp
    with pytest.raises(ValueError, match=r"target_density must be in \(0, 1\]"):
        calibrate_thresholds(net, train, target_density=bad)
    with pytest.raises(ValueError, match=r"target_density\['1'\] must be in \(0, 1\]"):
        calibrate_thresholds(net, train, target_density={"1": bad})
    assert not inserted_thresholds(net)


def test_argument_errors_say_what_is_wrong(digits_mlp) -> None:
    net, train, _ = digits_mlp
    with pytest.raises(ValueError, match="matches no module"):
        calibrate_thresholds(net, train, target_density=0.5, layers="encoder.*")
    with pytest.raises(ValueError, match="input thresholds go on Linear layers only"):
        calibrate_thresholds(net, train, target_density=0.5, layers="1", on="input")
    with pytest.raises(ValueError, match="on must be 'output' or 'input'"):
        calibrate_thresholds(net, train, target_density=0.5, on="inputs")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"keys \['9'\] match none"):
        calibrate_thresholds(net, train, target_density={"1": 0.5, "9": 0.5}, layers="1")
    with pytest.raises(ValueError, match="batches is empty"):
        calibrate_thresholds(net, [], target_density=0.5)
    with pytest.raises(TypeError, match="not a single Tensor"):
        calibrate_thresholds(net, train[0], target_density=0.5)
    with pytest.raises(ValueError, match="pass a number, not a dict"):
        calibrate_thresholds(net, train, target_density={"1": 0.5}, greedy=True)
    assert not inserted_thresholds(net)


def test_calibrating_twice_asks_to_remove_first(digits_mlp) -> None:
    net, train, _ = digits_mlp
    cal = calibrate_thresholds(net, train, target_density=0.5, layers="1")
    try:
        with pytest.raises(ValueError, match=r"already has magnitude thresholds on \['1'\]"):
            calibrate_thresholds(net, train, target_density=0.5, layers="1")
    finally:
        cal.remove()


def test_a_layer_sparser_than_the_target_is_left_alone_with_a_warning() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 32), nn.ReLU())  # about half the ReLU outputs are zero
    data = [torch.randn(256, 8)]
    with pytest.warns(UserWarning, match="sparser than their target"):
        cal = calibrate_thresholds(net, data, target_density=0.9)
    assert cal.layers["1"].threshold == 0.0
    assert cal.layers["1"].density == pytest.approx(cal.layers["1"].dense_density)


def test_minilm_held_out_density_per_layer(minilm: zoo.ZooModel) -> None:
    train = zoo.load_data("text", split="train", limit=24)
    test = zoo.load_data("text", split="test", limit=16)
    cal = calibrate_thresholds(minilm.module, minilm.batches(train, batch_size=8),
                               target_density=0.5, layers=MINILM_MLP, on="input")
    try:
        assert len(cal.layers) == 6
        held_out = cal.measure(minilm.batches(test, batch_size=8))
        assert sorted(held_out) == sorted(cal.layers)
        for name, density in held_out.items():
            assert density == pytest.approx(0.5, abs=0.02), name
    finally:
        cal.remove()
    assert not inserted_thresholds(minilm.module)


@pytest.mark.slow
def test_smollm2_held_out_density_per_layer(smollm2: zoo.ZooModel) -> None:
    train = zoo.load_data("text", split="train", limit=16)
    test = zoo.load_data("text", split="test", limit=8)
    cal = calibrate_thresholds(smollm2.module, smollm2.batches(train, batch_size=8, max_length=64),
                               target_density=0.3, layers="model.layers.*.mlp.down_proj",
                               on="input")
    try:
        assert len(cal.layers) == 30
        held_out = cal.measure(smollm2.batches(test, batch_size=8, max_length=64))
        for name, density in held_out.items():
            assert density == pytest.approx(0.3, abs=0.02), name
    finally:
        cal.remove()
