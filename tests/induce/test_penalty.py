"""ActivationPenalty: values against hand computation, training effect, accumulation, schedules."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

import actsparse
from actsparse import zoo
from actsparse.induce.penalty import ActivationPenalty
from actsparse.induce.penalty_terms import hoyer_square_penalty, kl_penalty, l1_penalty
from actsparse.induce.schedules import Constant, Progressive, WarmUp, make_schedule

pytestmark = pytest.mark.usefixtures("one_thread")


def relu_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 12), nn.ReLU(), nn.Linear(12, 3)
    )


def kl_by_hand(rho: float, r: float) -> float:
    return rho * math.log(rho / r) + (1 - rho) * math.log((1 - rho) / (1 - r))


# -- values -----------------------------------------------------------------------------------
def test_values_on_known_activations() -> None:
    x = torch.tensor([[2.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5]])
    assert l1_penalty(x).item() == pytest.approx(3.5 / 8)
    # sample 0: (3)^2 / (4 * 5) = 0.45; sample 1: one nonzero of four = 0.25
    assert hoyer_square_penalty(x).item() == pytest.approx((0.45 + 0.25) / 2)
    rates = [math.tanh(2.0) / 2, math.tanh(1.0) / 2, 1e-6, math.tanh(0.5) / 2]
    expected = sum(kl_by_hand(0.2, r) for r in rates) / 4
    assert kl_penalty(x, target=0.2).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("n, k", [(10, 1), (10, 3), (64, 64), (100, 7)])
def test_hoyer_is_effective_density_and_scale_invariant(n: int, k: int) -> None:
    x = torch.zeros(5, n)
    x[:, :k] = 3.0
    assert hoyer_square_penalty(x).item() == pytest.approx(k / n, rel=1e-5)
    y = torch.randn(5, n)
    assert_close(hoyer_square_penalty(y), hoyer_square_penalty(y * 1e3))


def test_conv_and_token_layouts() -> None:
    conv = torch.rand(2, 3, 4, 4)
    # per sample over C*H*W, and per channel rates for KL
    per_sample = [(s.sum() ** 2 / (48 * s.square().sum())).item() for s in conv]
    assert hoyer_square_penalty(conv).item() == pytest.approx(sum(per_sample) / 2, rel=1e-5)
    rates = torch.tanh(conv).mean(dim=(0, 2, 3)).tolist()
    kl = sum(kl_by_hand(0.3, r) for r in rates) / 3
    assert kl_penalty(conv, target=0.3).item() == pytest.approx(kl, rel=1e-5)
    tokens = torch.rand(2, 5, 7)  # (B, T, U): per-token samples
    assert_close(hoyer_square_penalty(tokens), hoyer_square_penalty(tokens.reshape(10, 7)))


def test_penalty_is_weighted_sum_over_layers() -> None:
    net = relu_net()
    x = torch.randn(8, 6)
    acts = []
    hooks = [net[i].register_forward_hook(lambda m, a, out: acts.append(out)) for i in (1, 3)]
    with ActivationPenalty(net, kind="hoyer", weight=0.3) as pen:
        net(x)
        got = pen.loss()
    for h in hooks:
        h.remove()
    expected = 0.3 * (hoyer_square_penalty(acts[0]) + hoyer_square_penalty(acts[1]))
    assert_close(got, expected)
    assert set(pen.last_terms) == {"1", "3"}


@pytest.mark.parametrize("kind, target", [("l1", None), ("hoyer", None), ("kl", 0.05)])
def test_gradient_lowers_the_penalty(kind: str, target: float | None) -> None:
    x = torch.randn(16, 6, requires_grad=True)
    act = nn.Sequential(nn.ReLU())
    with ActivationPenalty(act, kind=kind, weight=1.0, target=target) as pen:
        act(x)
        before = pen.loss()
        before.backward()
        with torch.no_grad():
            x -= 0.05 * x.grad / x.grad.norm()
        act(x)
        assert pen.loss().item() < before.item()


# -- training on real data --------------------------------------------------------------------
def _train_digits(kind: str | None, weight: float, target: float | None = None) -> tuple:
    train = zoo.load_data("digits", split="train")
    test = zoo.load_data("digits", split="test")
    x, y = train.images.flatten(1), train.labels
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                        nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    pen = ActivationPenalty(net, kind=kind, weight=weight, target=target) if kind else None
    gen = torch.Generator().manual_seed(1)
    for _ in range(100):
        idx = torch.randint(0, len(x), (64,), generator=gen)
        loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
        if pen is not None:
            loss = loss + pen.loss()
            pen.step()
        opt.zero_grad()
        loss.backward()
        opt.step()
    if pen is not None:
        pen.remove()
    xt = test.images.flatten(1)
    prof = actsparse.profile(net, [xt])
    with torch.no_grad():
        accuracy = (net(xt).argmax(1) == test.labels).float().mean().item()
    return [prof[n].density for n in ("1", "3")], accuracy


def test_penalties_make_a_digits_mlp_sparser() -> None:
    dense, dense_acc = _train_digits(None, 0.0)
    assert dense_acc > 0.85
    for kind, weight, target in [("l1", 0.2, None), ("hoyer", 0.5, None), ("kl", 1.0, 0.05)]:
        density, acc = _train_digits(kind, weight, target)
        for d, d0 in zip(density, dense, strict=True):
            assert d < 0.85 * d0, (kind, density, dense)
        assert acc > 0.8, (kind, acc)


# -- accumulation semantics -------------------------------------------------------------------
def test_loss_is_mean_over_forwards_and_clears() -> None:
    act = nn.Sequential(nn.ReLU())
    a, b = torch.randn(4, 5), torch.randn(4, 5)
    with ActivationPenalty(act, kind="l1", weight=2.0) as pen:
        act(a)
        act(b)
        assert_close(pen.loss(), 2.0 * (l1_penalty(a.relu()) + l1_penalty(b.relu())) / 2)
        assert pen.loss().item() == 0.0  # cleared
        assert pen.last_terms == {}


def test_no_forward_and_no_grad_forwards_give_zero() -> None:
    net = relu_net()
    with ActivationPenalty(net, kind="l1", weight=1.0) as pen:
        zero = pen.loss()
        assert zero.shape == () and zero.item() == 0.0 and not zero.requires_grad
        with torch.no_grad():
            net(torch.randn(3, 6))
        with torch.inference_mode():
            net(torch.randn(3, 6))
        assert pen.loss().item() == 0.0


def test_only_some_layers_ran() -> None:
    class TwoHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.ReLU()
            self.b = nn.Tanh()

        def forward(self, x: torch.Tensor, head: str) -> torch.Tensor:
            return self.a(x) if head == "a" else self.b(x)

    net = TwoHeads()
    x = torch.randn(4, 3)
    with ActivationPenalty(net, kind="l1", weight=1.0) as pen:
        net(x, "b")
        assert_close(pen.loss(), l1_penalty(torch.tanh(x)))
        assert list(pen.last_terms) == ["b"]


def test_gradient_accumulation_matches_the_full_batch() -> None:
    x = torch.randn(16, 6)
    grads = []
    for chunks in (1, 4):
        net = relu_net()
        with ActivationPenalty(net, kind="hoyer", weight=0.7) as pen:
            for part in x.chunk(chunks):
                loss = net(part).square().mean() + pen.loss()
                (loss / chunks).backward()
        grads.append([p.grad.clone() for p in net.parameters()])
    for g1, g4 in zip(*grads, strict=True):
        assert_close(g1, g4, rtol=1e-5, atol=1e-6)


def test_module_called_twice_counts_as_two_layers() -> None:
    relu = nn.ReLU()
    net = nn.Sequential(relu, nn.Linear(3, 3), relu)
    with ActivationPenalty(net, kind="l1", weight=1.0) as pen:
        net(torch.randn(2, 3))
        pen.loss()
    assert sorted(pen.last_terms) == ["0", "0#1"]


# -- schedules --------------------------------------------------------------------------------
def test_schedule_values() -> None:
    assert [WarmUp(10)(s) for s in (0, 5, 10, 50)] == [0.0, 0.5, 1.0, 1.0]
    assert [Progressive(100, 4)(s) for s in (0, 24, 25, 50, 74, 75, 1000)] == [
        0.25, 0.25, 0.5, 0.75, 0.75, 1.0, 1.0]
    assert Constant()(123) == 1.0
    assert make_schedule(None) == Constant()
    assert make_schedule("progressive:100") == Progressive(100, 4)
    assert make_schedule(lambda s: 0.5)(3) == 0.5
    for bad in ("warmup", "warmup:0", "warmup:x", "linear:10", "progressive:10:0"):
        with pytest.raises(ValueError, match="schedule|steps|stages"):
            make_schedule(bad)


def test_step_advances_the_weight() -> None:
    act = nn.Sequential(nn.ReLU())
    x = torch.rand(4, 4) + 0.5
    with ActivationPenalty(act, kind="l1", weight=2.0, schedule="warmup:4") as pen:
        values = []
        for _ in range(6):
            act(x)
            values.append(pen.loss().item())
            pen.step()
        assert pen.step_count == 6
    l1 = l1_penalty(x).item()
    assert values == pytest.approx([0.0, 0.5 * l1, 1.0 * l1, 1.5 * l1, 2.0 * l1, 2.0 * l1])
    pen.step_count = 2
    assert pen.current_weight == 1.0


# -- hooks as a resource, errors --------------------------------------------------------------
def _hook_count(net: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in net.modules())


def test_removal_leaves_no_hooks() -> None:
    net = relu_net()
    pen = ActivationPenalty(net, kind="kl", weight=1.0, target=0.1, layers=["1", "4:input"])
    assert _hook_count(net) == 4  # root enter and leave (per-call names) + two layers
    pen.remove()
    pen.remove()
    assert _hook_count(net) == 0 and not pen.attached
    with pytest.raises(RuntimeError), ActivationPenalty(net, kind="l1", weight=1.0):
        raise RuntimeError("boom")
    assert _hook_count(net) == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(kind="l2", weight=1.0), "unknown penalty kind 'l2'; kinds are: l1, hoyer, kl"),
        (dict(kind="l1", weight=-0.1), "weight must be a finite number >= 0"),
        (dict(kind="l1", weight=float("nan")), "weight must be a finite number >= 0"),
        (dict(kind="kl", weight=1.0, target=1.0), r"target must be a firing rate in \(0, 1\)"),
        (dict(kind="kl", weight=1.0, target=0.0), r"target must be a firing rate in \(0, 1\)"),
        (dict(kind="kl", weight=1.0), "kind='kl' needs target="),
        (dict(kind="l1", weight=1.0, target=0.1), "target is used only by kind='kl'"),
        (dict(kind="l1", weight=1.0, layers=["fc9"]), "layer pattern 'fc9' matches no module"),
        (dict(kind="l1", weight=1.0, schedule="cosine"), "unknown schedule 'cosine'"),
    ],
)
def test_errors(kwargs: dict, message: str) -> None:
    net = relu_net()
    with pytest.raises(ValueError, match=message):
        ActivationPenalty(net, **kwargs)
    assert _hook_count(net) == 0


def test_model_without_activations_says_what_to_do() -> None:
    with pytest.raises(ValueError, match="no activation modules"):
        ActivationPenalty(nn.Linear(3, 3), kind="l1", weight=1.0)
