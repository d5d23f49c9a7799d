"""The streaming-state protocol: declared reductions give merge, reset and all_reduce."""

from __future__ import annotations

import pytest
import torch

from actsparse.measure.config import ProfileConfig
from actsparse.measure.layer import LayerProfile
from actsparse.measure.state import REDUCTIONS, new_state
from actsparse.measure.streaming import (
    CAT,
    MAX,
    MIN,
    SUM,
    LayerStates,
    StreamingState,
    distributed,
    gather_objects,
)


class Stats(StreamingState):
    """Count, sum, min, max, a growing per-label count and the 3 largest values seen."""

    def __init__(self) -> None:
        self.add_state("n", torch.zeros((), dtype=torch.int64), SUM)
        self.add_state("total", torch.zeros(2, dtype=torch.float64), SUM)
        self.add_state("low", torch.full((2,), float("inf")), MIN)
        self.add_state("high", torch.full((2,), float("-inf")), MAX)
        self.add_state("per_label", torch.zeros(0, dtype=torch.int64), SUM, grow=True)
        self.add_state("best", torch.zeros(0), CAT)

    def update(self, x: torch.Tensor, labels: torch.Tensor) -> None:  # x: (N, 2)
        s = self.state
        s["n"] += x.shape[0]
        s["total"] += x.double().sum(0)
        s["low"] = torch.minimum(s["low"], x.min(0).values)
        s["high"] = torch.maximum(s["high"], x.max(0).values)
        counts = torch.bincount(labels)
        rows = max(counts.numel(), s["per_label"].numel())
        s["per_label"] = self._aligned("per_label", s["per_label"], (rows,))
        s["per_label"][: counts.numel()] += counts
        s["best"] = torch.cat([s["best"], x[:, 0]])
        self._trim()

    def _trim(self) -> None:
        self.state["best"] = self.state["best"].sort(descending=True).values[:3]

    def compute(self) -> dict[str, list]:
        return {k: v.tolist() for k, v in self.state.items()}


def data(seed: int, n: int, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=gen), torch.randint(0, classes, (n,), generator=gen)


def test_merge_equals_measuring_the_union_and_changes_neither_input():
    (xa, ya), (xb, yb) = data(0, 20, 2), data(1, 30, 5)  # b has more labels: per_label grows
    a, b, whole = Stats(), Stats(), Stats()
    a.update(xa, ya)
    b.update(xb, yb)
    whole.update(torch.cat([xa, xb]), torch.cat([ya, yb]))
    before = a.compute(), b.compute()
    merged = a.merge(b)
    assert (a.compute(), b.compute()) == before
    for key, value in whole.state.items():
        torch.testing.assert_close(merged.state[key], value, msg=key)
    torch.testing.assert_close(b.merge(a).state["per_label"], whole.state["per_label"])
    assert merged.state["per_label"].tolist() == torch.bincount(torch.cat([ya, yb])).tolist()


def test_reset_restores_the_declared_defaults_and_copy_is_independent():
    s = Stats()
    s.update(*data(2, 10, 3))
    c = s.copy()
    assert s.reset() is s
    fresh = Stats()
    for key, value in fresh.state.items():
        assert torch.equal(s.state[key], value), key
    assert int(c.state["n"]) == 10
    assert list(s.declared) == ["n", "total", "low", "high", "per_label", "best"]
    assert s.declared["best"].reduce == CAT and s.declared["per_label"].grow


def test_declarations_are_checked():
    s = StreamingState()
    with pytest.raises(ValueError, match="reduce must be 'sum', 'min', 'max' or 'cat'"):
        s.add_state("x", torch.zeros(1), "mean")
    with pytest.raises(ValueError, match="only a 'sum' state can grow"):
        s.add_state("x", torch.zeros(1), MAX, grow=True)
    with pytest.raises(TypeError, match="must be a tensor"):
        s.add_state("x", [0.0], SUM)  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError, match="does not define update"):
        s.update()


def test_merge_refuses_other_kinds_and_other_shapes():
    with pytest.raises(TypeError, match="can only merge a Stats, got StreamingState"):
        Stats().merge(StreamingState())  # type: ignore[arg-type]
    other = Stats()
    other.state["total"] = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"state 'total' has shape \(2,\) vs \(3,\)"):
        Stats().merge(other)


def test_without_a_process_group_all_reduce_is_the_identity():
    s = Stats()
    s.update(*data(3, 8, 2))
    before = s.compute()
    assert not distributed()
    assert s.all_reduce() is s and s.compute() == before
    assert gather_objects(5) == [5]


class Layers(LayerStates[Stats]):
    def __init__(self, names: list[str]) -> None:
        self.layers = {name: Stats() for name in names}


def test_layer_states_merge_layer_by_layer_and_need_the_same_layers():
    a, b = Layers(["x", "y"]), Layers(["y", "x"])
    a.layers["x"].update(*data(4, 5, 2))
    b.layers["x"].update(*data(5, 7, 2))
    merged = a.merge(b)
    assert merged.names == ["x", "y"] and int(merged.layers["x"].state["n"]) == 12
    assert int(a.layers["x"].state["n"]) == 5
    with pytest.raises(ValueError, match=r"different layers; in one but not the other: \['z'\]"):
        a.merge(Layers(["x", "y", "z"]))
    assert a.reset().names == ["x", "y"] and int(a.layers["x"].state["n"]) == 0
    assert a.all_reduce() is a


def test_layer_profile_declares_every_state_tensor():
    cfg = ProfileConfig(union_sizes=(1, 3))  # groups of 3 fit both shards (6 and 3 samples)
    layer = LayerProfile("fc", False, 4, (), cfg, new_state(cfg, 4, ()))
    assert {k: d.reduce for k, d in layer.declared.items()} == REDUCTIONS
    x, y = torch.randn(6, 4), torch.randn(3, 4)
    one = LayerProfile("fc", False, 4, (), cfg, new_state(cfg, 4, ()))
    one.update(torch.cat([x, y]))
    layer.update(x)
    other = LayerProfile("fc", False, 4, (), cfg, new_state(cfg, 4, ()))
    other.update(y)
    merged = layer.merge(other)
    for key, value in one.state.items():
        torch.testing.assert_close(merged.state[key], value, msg=key)
    assert merged.compute() == merged.summary()
    layer.reset()
    assert all(torch.equal(layer.state[k], v) for k, v in new_state(cfg, 4, ()).items())


def test_layer_profile_resamples_spatial_maps_of_other_sizes():
    cfg = ProfileConfig()
    a = LayerProfile("c", False, 2, (4, 4), cfg, new_state(cfg, 2, (4, 4)))
    b = LayerProfile("c", False, 2, (2, 2), cfg, new_state(cfg, 2, (2, 2)))
    a.update(torch.ones(1, 2, 4, 4))
    b.update(torch.ones(3, 2, 2, 2))
    merged = a.merge(b)
    assert merged.state["spatial_active"].shape == (4, 4)
    added = merged.state["spatial_active"] - a.state["spatial_active"]  # b's map, resampled
    assert bool((added == added[0, 0]).all()) and int(added.sum()) == pytest.approx(24, abs=8)
