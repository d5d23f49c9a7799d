"""profile() on known inputs: every statistic against a direct computation on the raw tensor."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pytest
import torch
from torch import Tensor, nn
from torch.testing import assert_close

import actsparse
from actsparse import metrics
from actsparse.measure import LayerProfile, Profile
from actsparse.measure import profiler as profiler_module
from actsparse.measure.state import update_reference


def relu_net() -> nn.Module:
    """A ReLU fed non-negative tensors is the identity: its activations are the input."""
    return nn.Sequential(nn.ReLU())


def sparse_data(shape: tuple[int, ...], density: float = 0.3, seed: int = 0) -> Tensor:
    """Non-negative, log-normal magnitudes with exact zeros and exact powers of ten."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.exp(torch.randn(shape, generator=gen) * 2.0 - 3.0)
    x = x * (torch.rand(shape, generator=gen) < density)
    flat = x.view(-1)
    picks = torch.randint(0, flat.numel(), (40,), generator=gen)
    flat[picks] = torch.tensor([1e-3, 1e-2, 1e-1, 1.0] * 10)
    return x


def assert_states_equal(a: Profile, b: Profile, exact_floats: bool = False) -> None:
    assert a.names == b.names
    for la, lb in zip(a, b, strict=True):
        assert (la.units, la.spatial, la.on_input) == (lb.units, lb.spatial, lb.on_input)
        for key, value in la.state.items():
            other = lb.state[key]
            if value.is_floating_point() and not exact_floats:
                assert_close(value, other, rtol=1e-9, atol=1e-9, msg=f"{la.name}.{key}")
            else:
                assert torch.equal(value, other), f"{la.name}.{key}: {value} != {other}"


@pytest.fixture(params=["active", "reference"])
def update_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test through whichever update is active (a fused kernel where built) and through
    the plain-torch reference, which every fast path must match."""
    if request.param == "reference":
        monkeypatch.setattr(profiler_module, "update_state", update_reference)
    return str(request.param)


def one_layer(prof: Profile) -> LayerProfile:
    assert len(prof) == 1
    return next(iter(prof))


# -- exact statistics ------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(256, 32), (16, 8, 24), (64, 3, 5, 5)])
def test_exact_counts_and_moments(shape: tuple[int, ...], update_path: str) -> None:
    x = sparse_data(shape)
    batches = list(x.split(shape[0] // 4))
    layer = one_layer(actsparse.profile(relu_net(), batches))
    x64 = x.double()
    assert layer.elements == x.numel()
    assert layer.density == pytest.approx(float((x != 0).double().mean()), abs=1e-12)
    assert layer.zero_fraction == pytest.approx(float((x == 0).double().mean()), abs=1e-12)
    for t in (1e-3, 1e-2, 1e-1):  # powers of ten are histogram edges: exact
        expected = float((x < torch.tensor(t, dtype=torch.float32)).double().mean())
        assert layer.near_zero(t) == pytest.approx(expected, abs=1e-12), t
    s = layer.summary()
    assert s["near_zero"] == {f"{t:g}": layer.near_zero(t) for t in (1e-3, 1e-2, 1e-1)}
    assert s["mean"] == pytest.approx(float(x64.mean()), rel=1e-9)
    assert s["var"] == pytest.approx(float(x64.var(unbiased=False)), rel=1e-6)
    assert s["abs_mean"] == pytest.approx(float(x64.abs().mean()), rel=1e-9)
    assert (s["min"], s["max"]) == (float(x.min()), float(x.max()))
    samples = shape[0] * shape[1] if len(shape) == 3 else shape[0]
    assert layer.samples == s["samples"] == samples


def test_negative_values_and_threshold() -> None:
    x = torch.randn(128, 16)
    layer = one_layer(
        actsparse.profile(
            nn.Sequential(nn.Tanh()), [x], config=actsparse.ProfileConfig(active_threshold=0.5)
        )
    )
    y = torch.tanh(x).double()
    assert layer.density == pytest.approx(float((y.abs() > 0.5).double().mean()), abs=1e-12)
    assert layer.summary()["mean"] == pytest.approx(float(y.mean()), rel=1e-5, abs=1e-7)
    assert layer.summary()["min"] == pytest.approx(float(y.min()), rel=1e-6)


def test_dead_units_and_firing_rate(update_path: str) -> None:
    x = sparse_data((192, 10), density=0.5)
    dead = [0, 3, 9]
    x[:, dead] = 0.0
    x[:, 5] = 1.0  # always active
    layer = one_layer(actsparse.profile(relu_net(), list(x.split(64))))
    assert layer.dead_units().tolist() == dead
    rate = (x != 0).double().mean(0)
    assert_close(layer.firing_rate(), rate)
    assert layer.summary()["dead_units"] == 3
    assert layer.summary()["dead_fraction"] == pytest.approx(0.3)
    assert layer.summary()["firing_rate"]["max"] == 1.0


@pytest.mark.parametrize("batch", [64, 128, 192])
def test_union_density(batch: int, update_path: str) -> None:
    x = sparse_data((384, 48), density=0.02, seed=batch)
    layer = one_layer(actsparse.profile(relu_net(), list(x.split(batch))))
    active = x != 0
    got = layer.union_density()
    assert set(got) == {1, 8, 64}
    for b in (1, 8, 64):
        assert got[b] == pytest.approx(float(metrics.union_density(active, b)), abs=1e-6), b
    assert got[1] == pytest.approx(layer.density)


def test_union_density_token_rows() -> None:
    x = sparse_data((8, 16, 12), density=0.05)  # 128 tokens: every token is a row
    layer = one_layer(actsparse.profile(relu_net(), [x[:4], x[4:]]))
    active = x.reshape(-1, 12) != 0
    for b in (1, 8, 64):
        assert layer.union_density()[b] == pytest.approx(
            float(metrics.union_density(active, b)), abs=1e-6
        )


def test_conv_spatial_map_and_firing_rate(update_path: str) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU())
    x = torch.randn(24, 2, 6, 7)
    layer = one_layer(actsparse.profile(net, list(x.split(8))))
    with torch.no_grad():
        y = net(x)
    assert (layer.units, layer.spatial) == (4, (6, 7))
    active = (y != 0).double()
    spatial = layer.spatial_map()
    assert spatial is not None
    assert_close(spatial, active.mean((0, 1)))
    assert_close(layer.firing_rate(), active.mean((0, 2, 3)))
    assert layer.summary()["shape"] == [4, 6, 7]
    hoyer = metrics.hoyer(y.flatten(1)).double().mean()
    assert layer.summary()["hoyer"] == pytest.approx(float(hoyer), abs=1e-5)


def test_dense_layer_has_no_spatial_map() -> None:
    layer = one_layer(actsparse.profile(relu_net(), [torch.rand(8, 4)]))
    assert layer.spatial_map() is None
    assert layer.spatial == ()


@pytest.mark.parametrize("shape", [(128, 40), (32, 4, 40)])
def test_hoyer_and_treves_rolls_means(shape: tuple[int, ...], update_path: str) -> None:
    x = sparse_data(shape, density=0.4)
    x[0] = 0.0  # an all-zero sample: Hoyer 1, Treves-Rolls 0
    s = one_layer(actsparse.profile(relu_net(), [x])).summary()
    rows = x.reshape(-1, shape[-1])
    assert s["hoyer"] == pytest.approx(float(metrics.hoyer(rows).double().mean()), abs=1e-5)
    tr = metrics.treves_rolls(rows).double().mean()
    assert s["treves_rolls"] == pytest.approx(float(tr), abs=1e-5)
    assert sum(s["population_density_hist"]) == rows.shape[0]
    assert sum(s["population_hoyer_hist"]) == rows.shape[0]


@pytest.mark.parametrize("density", [0.05, 0.3, 0.9])
def test_quantile_and_gini_from_histogram(density: float, update_path: str) -> None:
    x = sparse_data((512, 64), density=density, seed=int(density * 100))
    layer = one_layer(actsparse.profile(relu_net(), list(x.split(128))))
    pooled = x.flatten().double()
    for d in (0.5 * density, 0.1 * density):
        q = 1 - d
        expected = float(torch.quantile(pooled, q))
        got = layer.quantile(q)
        assert expected / 1.075 <= got <= expected * 1.075, (q, got, expected)
    assert layer.quantile(0.0) == 0.0
    with pytest.raises(ValueError, match="q must be in"):
        layer.quantile(1.5)
    assert layer.gini() == pytest.approx(float(metrics.gini(pooled)), rel=0.02)


# -- batch formats ---------------------------------------------------------------------------
class KwargNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.act = nn.ReLU()

    def forward(self, inputs: Tensor, scale: float = 1.0) -> Tensor:
        return self.act(inputs * scale)


def _formats(x: Tensor) -> dict[str, Iterable[object]]:
    halves = x.split(64)
    return {
        "tensor": list(halves),
        "tuple": [(h, torch.zeros(len(h))) for h in halves],
        "list": [[h, "label"] for h in halves],
        "dict": [{"inputs": h} for h in halves],
        "generator": (h for h in halves),
    }


@pytest.mark.parametrize("fmt", ["tensor", "tuple", "list", "dict", "generator"])
def test_batch_formats_agree(fmt: str) -> None:
    x = sparse_data((128, 16))
    expected = actsparse.profile(KwargNet(), [x])
    got = actsparse.profile(KwargNet(), _formats(x)[fmt])
    assert_states_equal(got, expected)


def test_input_key_and_dict_kwargs() -> None:
    x = sparse_data((64, 16))
    by_key = actsparse.profile(KwargNet(), [("label", x)], input_key=1)
    assert_states_equal(by_key, actsparse.profile(KwargNet(), [x]))
    scaled = actsparse.profile(KwargNet(), [{"inputs": x, "scale": -1.0}])
    assert one_layer(scaled).density == 0.0


class TokenNet(nn.Module):
    """A tokenwise model that takes a tokenizer's output as keyword arguments."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(50, 16)
        self.fc = nn.Linear(16, 32)
        self.act = nn.ReLU()

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        return self.act(self.fc(self.embed(input_ids)))


def test_attention_mask_excludes_padding() -> None:
    gen = torch.Generator().manual_seed(1)
    lengths = [5, 12, 1, 9, 12, 3, 7, 12]
    ids = torch.randint(1, 50, (8, 12), generator=gen)
    mask = torch.zeros(8, 12, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    ids = ids * mask  # padding token 0
    net = TokenNet()
    padded = actsparse.profile(net, [{"input_ids": ids, "attention_mask": mask}], inputs=True)
    unpadded = ids[mask.bool()][None]  # (1, tokens): the same rows in the same order
    expected = actsparse.profile(net, [{"input_ids": unpadded}], inputs=True)
    assert padded["act"].samples == sum(lengths)
    assert_states_equal(padded, expected)


# -- choosing layers -------------------------------------------------------------------------
def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.GELU(), nn.Linear(16, 4)
    )


@pytest.mark.parametrize(
    "layers, inputs, names",
    [
        (None, False, ["1", "3"]),
        ("3", False, ["3"]),
        ("[13]", False, ["1", "3"]),
        (nn.GELU, False, ["3"]),
        ("2:input", False, ["2:input"]),
        (None, True, ["0:input", "1", "2:input", "3", "4:input"]),
    ],
)
def test_layers_selection(layers: object, inputs: bool, names: list[str]) -> None:
    prof = actsparse.profile(_mlp(), [torch.randn(32, 8)], layers=layers, inputs=inputs)  # type: ignore[arg-type]
    assert prof.names == names
    assert all(prof[n].on_input == n.endswith(":input") for n in names)


def test_input_hook_sees_linear_input() -> None:
    net = _mlp()
    x = torch.randn(64, 8)
    prof = actsparse.profile(net, [x], layers=["2:input", "1"])
    with torch.no_grad():
        hidden = net[1](net[0](x))
    direct = actsparse.profile(relu_net(), [hidden])
    assert_close(prof["2:input"].state["unit_active"], direct["0"].state["unit_active"])
    assert prof["2:input"].density == prof["1"].density == direct["0"].density
    assert_close(prof["2:input"].state["hist"], direct["0"].state["hist"])


def test_module_called_twice() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.act = nn.ReLU()

        def forward(self, x: Tensor) -> Tensor:
            return self.act(self.act(x) - 0.5)

    x = torch.rand(64, 8)
    prof = actsparse.profile(Twice(), [x, x])
    assert prof.names == ["act", "act#1"]
    assert prof["act"].density == pytest.approx(float((x != 0).double().mean()))
    assert prof["act#1"].density == pytest.approx(float((x > 0.5).double().mean()))
    assert prof["act#1"].samples == 128


def test_max_batches_and_meta() -> None:
    prof = actsparse.profile(relu_net(), [torch.rand(4, 3)] * 10, max_batches=3)
    assert prof["0"].samples == 12
    assert prof.meta["batches"] == 3
    assert repr(prof) == "Profile(1 layers, 12 samples)"
    with pytest.raises(KeyError, match="no layer 'x'.*\\['0'\\]"):
        prof["x"]


# -- the Profiler context manager in a training loop -----------------------------------------
def test_profiler_in_training_loop() -> None:
    net = _mlp()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    before = [p.detach().clone() for p in net.parameters()]
    xs = [torch.randn(32, 8) for _ in range(3)]
    hidden = []
    with actsparse.Profiler(net, ["1"]) as profiler:
        for x in xs:
            with torch.no_grad():
                hidden.append(torch.relu(net[0](x)))  # what the hook sees (weights before step)
            loss = net(x).pow(2).mean()
            loss.backward()
            assert all(p.grad is not None for p in net.parameters())
            opt.step()
            opt.zero_grad()
    assert all(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    assert sum(len(m._forward_hooks) for m in net.modules()) == 0
    got = profiler.result["1"]
    expected = actsparse.profile(relu_net(), hidden)["0"]
    assert got.samples == 96
    for key in ("active", "count", "unit_active", "hist", "union_active", "union_slots"):
        assert torch.equal(got.state[key], expected.state[key]), key
    assert_close(got.state["sum"], expected.state["sum"])


def test_profiler_result_is_a_snapshot_and_reset() -> None:
    net = relu_net()
    with actsparse.Profiler(net) as profiler:
        net(torch.rand(4, 3))
        first = profiler.result
        net(torch.rand(4, 3))
        assert first["0"].samples == 4
        assert profiler.result["0"].samples == 8
        profiler.reset()
        net(torch.rand(2, 3))
    assert profiler.result["0"].samples == 2


# -- memory ----------------------------------------------------------------------------------
def _state_bytes(prof: Profile) -> int:
    return sum(t.numel() * t.element_size() for layer in prof for t in layer.state.values())


def test_state_size_does_not_grow_with_data() -> None:
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 8), nn.GELU())
    batches = [torch.randn(16, 1, 8, 8) for _ in range(50)]
    small = actsparse.profile(net, batches[:1], inputs=True)
    large = actsparse.profile(net, batches, inputs=True)
    assert large["1"].samples == 50 * small["1"].samples
    assert _state_bytes(small) == _state_bytes(large)
    for a, b in zip(small, large, strict=True):
        assert {k: v.shape for k, v in a.state.items()} == {k: v.shape for k, v in b.state.items()}
    assert not math.isnan(large["4"].density)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_float_dtypes(dtype: torch.dtype) -> None:
    x = sparse_data((64, 16)).to(dtype)
    got = actsparse.profile(relu_net(), [x])
    expected = actsparse.profile(relu_net(), [x.float()])  # every value is exact in float32
    assert_states_equal(got, expected)
