"""A model leaves profiling as it came in; bad input fails with a message that says what to do."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.testing import assert_close

import actsparse
from actsparse import zoo


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


class Net(nn.Module):
    def __init__(self, inplace: bool = False, fail_at: int | None = None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = nn.Linear(8, 32)
        self.drop = nn.Dropout(0.5)
        self.act1 = nn.ReLU(inplace=inplace)
        self.norm = nn.BatchNorm1d(32)
        self.fc2 = nn.Linear(32, 32)
        self.act2 = nn.ReLU(inplace=inplace)
        self.head = nn.Linear(32, 2)
        self.fail_at = fail_at
        self.calls = 0

    def forward(self, x: Tensor) -> Tensor:
        self.calls += 1
        h = self.norm(self.act1(self.drop(self.fc1(x))))  # (N, 32)
        if self.fail_at is not None and self.calls >= self.fail_at:
            raise RuntimeError("forward failed on purpose")
        return self.head(self.act2(self.fc2(h)))


# -- the model comes out as it went in -------------------------------------------------------
@pytest.mark.parametrize("fail_at", [1, 2])
def test_hooks_removed_when_forward_raises(fail_at: int) -> None:
    net = Net(fail_at=fail_at)
    with pytest.raises(RuntimeError, match="on purpose"):
        actsparse.profile(net, [torch.randn(4, 8)] * 3, inputs=True)
    assert _hook_count(net) == 0
    for module in net.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks


def test_profiler_unhooks_when_body_raises() -> None:
    net = Net()
    with pytest.raises(KeyError), actsparse.Profiler(net, inputs=True):
        assert _hook_count(net) > 0
        net(torch.randn(4, 8))
        raise KeyError("user code")
    assert _hook_count(net) == 0


@pytest.mark.parametrize("eval_mode", [True, False])
@pytest.mark.parametrize("inference_mode", [True, False])
def test_model_left_exactly_as_before(eval_mode: bool, inference_mode: bool) -> None:
    net = Net()
    net.train()
    net.drop.eval()  # mixed modes, per module
    net.fc2.weight.requires_grad_(False)
    modes = {n: m.training for n, m in net.named_modules()}
    flags = {n: p.requires_grad for n, p in net.named_parameters()}
    params = copy.deepcopy(net.state_dict())
    actsparse.profile(
        net,
        [torch.randn(16, 8) for _ in range(3)],
        eval_mode=eval_mode,
        inference_mode=inference_mode,
    )
    assert {n: m.training for n, m in net.named_modules()} == modes
    assert {n: p.requires_grad for n, p in net.named_parameters()} == flags
    for name, value in net.state_dict().items():
        if eval_mode or "norm" not in name:  # BatchNorm in train mode updates its running stats
            assert torch.equal(value, params[name]), name
    assert all(p.grad is None for p in net.parameters())
    assert _hook_count(net) == 0


def test_modes_restored_after_error() -> None:
    net = Net(fail_at=1)
    net.train()
    with pytest.raises(RuntimeError):
        actsparse.profile(net, [torch.randn(4, 8)])
    assert all(m.training for m in net.modules())


def test_eval_mode_turns_dropout_off() -> None:
    net = Net()
    net.train()
    x = torch.randn(64, 8)
    a = actsparse.profile(net, [x], layers="act1")
    b = actsparse.profile(net, [x], layers="act1")
    assert torch.equal(a["act1"].state["unit_active"], b["act1"].state["unit_active"])


def test_inplace_relu_measured_correctly() -> None:
    x = [torch.randn(64, 8) for _ in range(2)]
    inplace = actsparse.profile(Net(inplace=True), x, inputs=True)
    plain = actsparse.profile(Net(inplace=False), x, inputs=True)
    assert inplace.names == plain.names == ["fc1:input", "act1", "fc2:input", "act2", "head:input"]
    for a, b in zip(inplace, plain, strict=True):
        for key, value in b.state.items():
            assert_close(a.state[key], value, msg=f"{a.name}.{key}")
    # the ReLU's input was modified in place; what is measured is the rectified output
    assert inplace["act1"].summary()["min"] == 0.0


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize("model", [None, "model", torch.zeros(3), lambda x: x])
def test_not_a_module(model: Any) -> None:
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        actsparse.profile(model, [torch.zeros(2, 2)])


@pytest.mark.parametrize("batches", [[], (), iter([])])
def test_empty_batches(batches: Any) -> None:
    net = Net()
    with pytest.raises(ValueError, match="batches is empty"):
        actsparse.profile(net, batches)
    assert _hook_count(net) == 0


@pytest.mark.parametrize(
    "batch, kind",
    [("a string", "str"), (3, "int"), (None, "NoneType"), (3.5, "float")],
)
def test_batch_of_unusable_type(batch: Any, kind: str) -> None:
    net = Net()
    with pytest.raises(TypeError, match=f"batch 0 is a {kind}; expected a Tensor"):
        actsparse.profile(net, [batch])
    assert _hook_count(net) == 0


def test_batches_not_iterable() -> None:
    with pytest.raises(TypeError, match="batches must be an iterable"):
        actsparse.profile(Net(), 3)


@pytest.mark.parametrize("single", [torch.randn(4, 8), {"x": torch.randn(4, 8)}])
def test_single_batch_instead_of_iterable(single: Any) -> None:
    with pytest.raises(TypeError, match="not a single .*wrap it in a list"):
        actsparse.profile(Net(), single)


def test_empty_tuple_batch_and_bad_input_key() -> None:
    with pytest.raises(ValueError, match="batch 0 is an empty tuple"):
        actsparse.profile(Net(), [()])
    with pytest.raises(ValueError, match="batch 1 has no element 2"):
        actsparse.profile(Net(), [(0, 0, torch.randn(4, 8)), (torch.randn(4, 8),)], input_key=2)


def test_layer_pattern_matches_nothing() -> None:
    with pytest.raises(ValueError, match=r"'blocks\.\*' matches no module.*fc1, drop, act1"):
        actsparse.profile(Net(), [torch.randn(4, 8)], layers="blocks.*")


def test_model_without_activation_modules() -> None:
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: Tensor) -> Tensor:
            return torch.relu(self.fc(x))

    with pytest.raises(ValueError, match="no activation modules.*fc2:input"):
        actsparse.profile(Functional(), [torch.randn(2, 4)])
    prof = actsparse.profile(Functional(), [torch.randn(2, 4)], inputs=True)
    assert prof.names == ["fc:input"]


def test_changing_unit_count_is_an_error() -> None:
    net = nn.Sequential(nn.ReLU())
    with pytest.raises(ValueError, match="layer '0' had 4 units and now has 5"):
        actsparse.profile(net, [torch.randn(2, 4), torch.randn(2, 5)])
    assert _hook_count(net) == 0


# -- non-finite activations ------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(64, 16), (8, 4, 3, 3)])
def test_nan_and_inf_are_counted_not_fatal(shape: tuple[int, ...]) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen).relu()
    flat = x.view(-1)
    flat[[0, 5, 17]] = float("nan")
    flat[[1, 30]] = float("inf")
    flat[2] = float("-inf")
    prof = actsparse.profile(nn.Sequential(nn.Identity()), [x], layers="0")
    layer = prof["0"]
    s = layer.summary()
    assert (s["nan"], s["inf"]) == (3, 3)
    finite = x[torch.isfinite(x)].double()
    assert layer.density == pytest.approx(float((x != 0).double().mean()))  # NaN, Inf: active
    assert layer.zero_fraction == pytest.approx(float((x == 0).sum() / (x.numel() - 3)))
    assert (s["min"], s["max"]) == (float(finite.min()), float(finite.max()))
    numbers = [v for k, v in s.items() if isinstance(v, float) and k != "union_density"]
    assert all(math.isfinite(v) for v in numbers), s
    assert 0.0 <= s["hoyer"] <= 1.0 and 0.0 <= s["gini"] <= 1.0
    assert s["gini"] == pytest.approx(
        float(actsparse.metrics.gini(finite)), rel=0.02
    )  # Inf is left out
    assert sum(s["population_hoyer_hist"]) == layer.samples


def test_integer_outputs_are_skipped() -> None:
    class IntOut(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.act = nn.ReLU()

        def forward(self, x: Tensor) -> Tensor:
            return self.act(x).long()

    with actsparse.Profiler(IntOut(), ["act"]) as profiler:
        pass
    assert len(profiler.result) == 0


# -- issue 15.1: layers that never ran -------------------------------------------------------
class _Unused(nn.Module):
    """An activation module that exists but that forward never calls (as after torch.compile)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 4)
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.fc(x))


def test_profile_raises_when_no_selected_layer_ran() -> None:
    with pytest.raises(ValueError, match=r"none of the 1 selected layer.*'act'.*forward calls"):
        actsparse.profile(_Unused(), [torch.randn(4, 8)])


def test_profile_of_compiled_model_that_sees_nothing_explains_compilation() -> None:
    net = _Unused()
    net.compile(backend="eager")  # in-place compile: the call is replaced, hooks may not fire
    with pytest.raises(ValueError, match=r"compiled.*_orig_mod"):
        actsparse.profile(net, [torch.randn(4, 8)])


def test_profile_of_compiled_model_that_already_ran_measures_or_explains() -> None:
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).eval()
    compiled = torch.compile(net, backend="eager")
    with torch.inference_mode():
        compiled(torch.randn(4, 8))
    try:
        prof = actsparse.profile(compiled, [torch.randn(4, 8)])
    except ValueError as err:  # torch versions whose compiled code skips the new hooks
        assert "_orig_mod" in str(err)
    else:
        assert prof["_orig_mod.1"].samples == 4


def test_profile_warns_about_selected_layers_that_never_ran() -> None:
    net = nn.ModuleDict({"used": nn.ReLU(), "unused": nn.ReLU()})

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.parts = net

        def forward(self, x: Tensor) -> Tensor:
            return self.parts["used"](x)

    with pytest.warns(UserWarning, match="parts.unused"):
        prof = actsparse.profile(Model(), [torch.randn(4, 8)])
    assert prof.meta["unseen_layers"] == ["parts.unused"]
    assert prof["parts.used"].samples == 4


# -- issue 15.2: models called through a method ----------------------------------------------
class _Embedder(nn.Module):
    """A shared activation used twice per call, reached through a method (as ``encode``)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.fc2, self.act = nn.Linear(8, 16), nn.Linear(16, 16), nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.fc2(self.act(self.fc1(x))))

    def embed(self, x: Tensor) -> Tensor:
        return self.forward(x) * 2

    def embed_directly(self, x: Tensor) -> Tensor:
        return self.act(self.fc2(self.act(self.fc1(x))))


@pytest.mark.parametrize("call", ["__call__", "forward", "embed", "embed_directly"])
def test_layer_names_restart_with_every_top_level_call(call: str) -> None:
    net = _Embedder()
    with actsparse.Profiler(net) as prof:
        for _ in range(5):
            getattr(net, call)(torch.randn(3, 8))
    assert sorted(prof.result.layers) == ["act", "act#1"]
    assert prof.result["act"].samples == prof.result["act#1"].samples == 15


def test_minilm_forward_called_directly_keeps_one_name_per_layer(minilm: zoo.ZooModel) -> None:
    data = zoo.load_data("text", limit=12)
    batches = list(minilm.batches(data, batch_size=4, max_length=32))
    with torch.inference_mode():
        with actsparse.Profiler(minilm.module) as direct:
            for batch in batches:
                minilm.module.forward(**batch)  # as sentence-transformers' encode does
        called = actsparse.profile(minilm.module, batches)
    assert direct.result.layers.keys() == called.layers.keys()


# -- issue 15.9: zero-size activations -------------------------------------------------------
class _TwoExperts(nn.Module):
    """A top-1 mixture of experts: each token goes to one expert, which may get none."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.router = nn.Linear(8, 2)
        self.experts = nn.ModuleList(nn.Sequential(nn.Linear(8, 16), nn.ReLU()) for _ in range(2))

    def forward(self, x: Tensor) -> Tensor:  # (B, T, 8)
        tokens = x.reshape(-1, 8)
        choice = self.router(tokens).argmax(-1)
        out = torch.zeros(tokens.shape[0], 16)
        for i, expert in enumerate(self.experts):
            rows = choice == i
            out[rows] = expert(tokens[rows])  # (tokens routed to i, 16): may be (0, 16)
        return out


def test_expert_routed_no_tokens_is_skipped() -> None:
    net = _TwoExperts()
    with torch.no_grad():
        net.router.bias.copy_(torch.tensor([100.0, -100.0]))  # every token to expert 0
    prof = actsparse.profile(net, [torch.randn(2, 5, 8)] * 3)
    assert prof["experts.0.1"].samples == 30
    assert prof["experts.1.1"].samples == 0 and prof["experts.1.1"].units == 16


@pytest.mark.parametrize("shape", [(0, 8), (0, 5, 8), (0, 1, 28, 28)])
def test_zero_row_batches_are_skipped(shape: tuple[int, ...]) -> None:
    net = nn.Sequential(nn.ReLU())
    batches = [torch.zeros(shape), torch.randn(2, *shape[1:]), torch.zeros(shape)]
    prof = actsparse.profile(net, batches)
    rows = 2 * (shape[1] if len(shape) == 3 else 1)
    assert prof["0"].samples == rows
    assert prof["0"].elements == 2 * math.prod(shape[1:])


# -- issue 15.6: tiny activations, an all-NaN layer ------------------------------------------
def _digits_batch() -> Tensor:
    from sklearn.datasets import load_digits

    return torch.tensor(load_digits().data[:64], dtype=torch.float32) / 16  # (64, 64)


@pytest.mark.parametrize("native", [True, False])
def test_layer_treves_rolls_and_hoyer_do_not_depend_on_scale(
        native: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not native:
        monkeypatch.setattr("actsparse.measure.update.fused_update", lambda *a: False)
    net = nn.Sequential(nn.ReLU())
    x = _digits_batch()
    plain = actsparse.profile(net, [x])["0"].summary()
    tiny = actsparse.profile(net, [x * 1e-20])["0"].summary()
    assert tiny["treves_rolls"] == pytest.approx(plain["treves_rolls"], rel=1e-6)
    assert tiny["hoyer"] == pytest.approx(plain["hoyer"], rel=1e-6)


def test_all_nan_layer_reports_nan_sparsity() -> None:
    net = nn.Sequential(nn.Linear(64, 16), nn.ReLU())
    with torch.no_grad():
        net[0].weight.fill_(float("nan"))
    summary = actsparse.profile(net, [_digits_batch()])["1"].summary()
    assert summary["nan"] == summary["elements"] == 64 * 16
    for key in ("hoyer", "gini", "treves_rolls"):
        assert math.isnan(summary[key]), key
