"""KWinners / KWinners2d: exact k, boosting, duty cycles, gradients, errors, the C kernel."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import actsparse
from actsparse._hooks import is_activation
from actsparse.induce.kwinners import (
    KWinners,
    KWinners2d,
    kwinners_kernel,
    select_winners,
    winners_mask,
)

NATIVE = [True, False]


@pytest.mark.parametrize("native", NATIVE)
@pytest.mark.parametrize("shape", [(8, 50), (3, 5, 50)])
@pytest.mark.parametrize(("density", "factor"), [(0.1, 1.0), (0.1, 1.5), (0.5, 2.0), (1.0, 1.0)])
def test_exact_k_per_sample_train_and_eval(native: bool, shape: tuple[int, ...], density: float,
                                           factor: float) -> None:
    kw = KWinners(50, density, k_inference_factor=factor)
    kw.native = native
    x = torch.randn(*shape)
    k = round(density * 50)
    assert kw.k == k and kw.k_inference == round(k * factor)
    y = kw.train()(x)
    assert ((y != 0).sum(dim=-1) == k).all()
    y = kw.eval()(x)
    assert ((y != 0).sum(dim=-1) == kw.k_inference).all()
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept])  # outputs keep the un-boosted values


@pytest.mark.parametrize("native", NATIVE)
@pytest.mark.parametrize(("local", "density", "k"), [(False, 0.1, 29), (True, 0.25, 2)])
def test_2d_exact_k_global_and_local(native: bool, local: bool, density: float, k: int) -> None:
    kw = KWinners2d(8, density, local=local, k_inference_factor=1.5)
    kw.native = native
    x = torch.randn(4, 8, 6, 6)
    y = kw(x)
    if local:  # k of the 8 channels at every position
        assert ((y != 0).sum(dim=1) == k).all()
    else:  # k of the 8*6*6 = 288 entries of each sample
        assert ((y != 0).flatten(1).sum(dim=1) == k).all()
    kw.eval()
    y = kw(x)
    counts = (y != 0).sum(dim=1) if local else (y != 0).flatten(1).sum(dim=1)
    assert (counts == round(k * 1.5)).all()


def test_local_and_global_choose_differently() -> None:
    # channel 0 is large everywhere: globally it takes all the winners, locally only one slot
    x = torch.randn(2, 4, 5, 5) * 0.1
    x[:, 0] += 10.0
    glob = KWinners2d(4, 0.25, boost_strength=0.0)(x)  # k = 25 = all of channel 0
    local = KWinners2d(4, 0.25, local=True, boost_strength=0.0)(x)  # k = 1 per position
    assert (glob[:, 0] != 0).all() and (glob[:, 1:] == 0).all()
    assert (local[:, 0] != 0).all() and (local[:, 1:] == 0).all()
    x[:, 1, 0, 0] = 20.0  # one hot entry in channel 1
    glob = KWinners2d(4, 0.25, boost_strength=0.0)(x)
    local = KWinners2d(4, 0.25, local=True, boost_strength=0.0)(x)
    assert glob[0, 1, 0, 0] == 20.0 and (glob[0] != 0).sum() == 25  # one of channel 0 drops out
    assert local[0, 1, 0, 0] == 20.0 and local[0, 0, 0, 0] == 0  # it displaces channel 0 there
    assert (local[0, 0] != 0).sum() == 24


@pytest.mark.parametrize("native", NATIVE)
def test_boosting_lets_rarely_winning_units_win(native: bool) -> None:
    # unit 0 is slightly ahead of unit 1 in every sample, but it has always won (duty 1.0)
    x = torch.zeros(6, 10)
    x[:, 0] = 1.0
    x[:, 1] = 0.9
    x[:, 2:] = -torch.rand(6, 8)
    plain = KWinners(10, 0.1, boost_strength=0.0)
    boosted = KWinners(10, 0.1, boost_strength=2.0)
    for kw in (plain, boosted):
        kw.native = native
        kw.duty_cycle[0] = 1.0
        kw.eval()
    assert (plain(x)[:, 0] == 1.0).all()
    y = boosted(x)  # exp(2 * (0.1 - 1)) * 1.0 = 0.165 < exp(2 * 0.1) * 0.9 = 1.10
    assert (y[:, 0] == 0).all() and (y[:, 1] == 0.9).all()  # the un-boosted value is kept
    boosted.update_boost_strength()
    assert boosted.boost_strength == pytest.approx(1.8)


@pytest.mark.parametrize("native", NATIVE)
def test_boosting_spreads_wins_during_training(native: bool) -> None:
    torch.manual_seed(0)
    bias = torch.linspace(1.0, 0.0, 20)  # without boosting the first units always win
    plain = KWinners(20, 0.1, boost_strength=0.0, duty_cycle_period=200)
    boosted = KWinners(20, 0.1, boost_strength=5.0, duty_cycle_period=200)
    for kw in (plain, boosted):
        kw.native = native
        for _ in range(40):
            kw(torch.randn(16, 20) * 0.01 + bias)
    assert (plain.duty_cycle > 0).sum() <= 3
    assert (boosted.duty_cycle > 0).sum() >= 10
    torch.testing.assert_close(boosted.duty_cycle.mean(), torch.tensor(0.1))


def test_duty_cycle_update_math() -> None:
    kw = KWinners(4, 0.5, boost_strength=0.0, duty_cycle_period=10)
    a = torch.tensor([[4.0, 3.0, 0.0, 0.0]] * 4)  # units 0 and 1 win 4 of 4
    b = torch.tensor([[0.0, 0.0, 2.0, 1.0]] * 4)  # units 2 and 3 win 4 of 4
    kw(a)
    torch.testing.assert_close(kw.duty_cycle, torch.tensor([1.0, 1.0, 0.0, 0.0]))
    kw(b)  # 8 samples seen < period: the plain average, (4 + 0) / 8
    torch.testing.assert_close(kw.duty_cycle, torch.tensor([0.5, 0.5, 0.5, 0.5]))
    kw(b)  # 12 seen, T = 10: d = (d * (10 - 4) + wins) / 10
    torch.testing.assert_close(kw.duty_cycle, torch.tensor([0.3, 0.3, 0.7, 0.7]))
    assert int(kw.samples_seen) == 12
    kw.eval()
    kw(a)  # inference leaves the duty cycles alone
    torch.testing.assert_close(kw.duty_cycle, torch.tensor([0.3, 0.3, 0.7, 0.7]))
    kw.train()
    kw(torch.cat([a] * 4))  # a batch of 16 > period 10: the batch alone
    torch.testing.assert_close(kw.duty_cycle, torch.tensor([1.0, 1.0, 0.0, 0.0]))
    kw.reset_duty_cycle()
    assert kw.duty_cycle.sum() == 0 and int(kw.samples_seen) == 0


def test_duty_cycle_2d_is_fraction_of_positions() -> None:
    kw = KWinners2d(2, 0.5, local=True, boost_strength=0.0)
    x = torch.zeros(2, 2, 2, 2)
    x[:, 0, 0, :] = 1.0  # channel 0 wins the top row, channel 1 the bottom row
    x[:, 1, 1, :] = 1.0
    x[:, 0, 1, :] = -1.0
    x[:, 1, 0, :] = -1.0
    kw(x)
    torch.testing.assert_close(kw.duty_cycle, torch.tensor([0.5, 0.5]))
    glob = KWinners2d(2, 0.25, boost_strength=0.0)  # k = 2 of 8, both in channel 0
    x = torch.randn(3, 2, 2, 2) - 5.0
    x[:, 0, 0, :] = 1.0
    glob(x)
    torch.testing.assert_close(glob.duty_cycle, torch.tensor([0.5, 0.0]))


@pytest.mark.parametrize("native", NATIVE)
def test_gradient_only_through_winners(native: bool) -> None:
    for kw, shape in ((KWinners(30, 0.2), (5, 30)), (KWinners2d(3, 0.2), (2, 3, 4, 4)),
                      (KWinners2d(6, 0.5, local=True), (2, 6, 3, 3))):
        kw.native = native
        x = torch.randn(*shape, requires_grad=True)
        y = kw(x)
        g = torch.randn(*shape)
        y.backward(g)
        assert x.grad is not None
        winners = y.detach() != 0
        torch.testing.assert_close(x.grad, torch.where(winners, g, 0.0))


@pytest.mark.skipif(kwinners_kernel() is None,
                    reason="C kernel unavailable (no compiler, or ACTSPARSE_NO_NATIVE)")
@pytest.mark.parametrize(("shape", "layout", "div", "n_wins"), [
    ((64, 5000), (64, 5000, 1), 1, 5000),       # dense layer, radix select
    ((16, 8, 7, 7), (16, 392, 1), 49, 8),       # 2d global, radix select
    ((16, 40, 5, 5), (16, 40, 25), 1, 40),      # 2d local, quickselect
    ((100, 300), (100, 300, 1), 1, 300),
])
def test_kernel_equals_torch_reference(shape: tuple[int, ...], layout: tuple[int, int, int],
                                       div: int, n_wins: int) -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=gen)
    for boost in (None, torch.rand(n_wins, generator=gen) + 0.5):
        for k in (1, 3, layout[1] // 2, layout[1]):
            o1, m1, w1 = select_winners(x, k, layout, boost, div, n_wins, native=True)
            o2, m2, w2 = select_winners(x, k, layout, boost, div, n_wins, native=False)
            assert torch.equal(m1, m2) and torch.equal(w1, w2), (k, boost is None)
            assert torch.equal(o1, o2)


@pytest.mark.parametrize("native", NATIVE)
@pytest.mark.parametrize("n", [50, 1000])  # the kernel's quickselect and radix-select paths
def test_ties_and_nan_still_exactly_k(native: bool, n: int) -> None:
    x = torch.zeros(3, n)  # everything ties at 0: exactly k anyway
    x[0, :5] = 1.0
    x[1, 7] = float("nan")  # NaN ranks as the largest, as in torch.topk
    x[2, 20] = -0.0  # equal to 0.0
    _, mask, _ = select_winners(x, 10, (3, n, 1), None, 1, n, native=native)
    assert mask.sum(dim=1).tolist() == [10, 10, 10]
    assert mask[0, :5].all() and mask[1, 7]
    assert mask[2, :10].all()  # both paths break ties by index


def test_winners_mask_exact_k() -> None:
    assert winners_mask(torch.ones(2, 9), 4).sum(dim=1).tolist() == [4, 4]


def test_validation_errors() -> None:
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=f"density must be in \\(0, 1\\], got {bad}"):
            KWinners(10, bad)
    with pytest.raises(ValueError, match="gives k = 0 winners"):
        KWinners(100, 0.001)
    with pytest.raises(ValueError, match="outside 1..10"):
        KWinners(10, 0.6, k_inference_factor=2.0)
    with pytest.raises(ValueError, match="boost_strength must be >= 0"):
        KWinners(10, 0.5, boost_strength=-1.0)
    with pytest.raises(ValueError, match="boost_strength_factor"):
        KWinners(10, 0.5, boost_strength_factor=1.5)
    with pytest.raises(ValueError, match="duty_cycle_period"):
        KWinners(10, 0.5, duty_cycle_period=0)
    with pytest.raises(ValueError, match="expects inputs of shape \\(\\*, 10\\), got \\(4, 9\\)"):
        KWinners(10, 0.5)(torch.randn(4, 9))
    with pytest.raises(ValueError, match="\\(N, 3, H, W\\), got \\(2, 4, 5, 5\\)"):
        KWinners2d(3, 0.5)(torch.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match="\\(N, 3, H, W\\), got \\(3, 5, 5\\)"):
        KWinners2d(3, 0.5)(torch.randn(3, 5, 5))
    with pytest.raises(ValueError, match="C\\*H\\*W = 4 gives k = 0"):
        KWinners2d(1, 0.1)(torch.randn(2, 1, 2, 2))
    with pytest.raises(ValueError, match="channels = 4 gives k = 0"):
        KWinners2d(4, 0.1, local=True)


def test_extra_repr_and_state_dict_round_trip() -> None:
    kw = KWinners(128, 0.1, boost_strength=1.5, k_inference_factor=1.5)
    assert repr(kw) == ("KWinners(n=128, density=0.1, k=13, k_inference=20, boost_strength=1.5, "
                        "boost_strength_factor=0.9, duty_cycle_period=1000, "
                        "k_inference_factor=1.5)")
    assert repr(KWinners2d(32, 0.05)) == (
        "KWinners2d(channels=32, density=0.05, local=False, boost_strength=1, "
        "boost_strength_factor=0.9, duty_cycle_period=1000, k_inference_factor=1)")
    kw(torch.randn(8, 128))
    kw.update_boost_strength()
    other = KWinners(128, 0.1, k_inference_factor=1.5)
    other.load_state_dict(kw.state_dict())
    assert other.boost_strength == pytest.approx(1.35)
    assert torch.equal(other.duty_cycle, kw.duty_cycle) and int(other.samples_seen) == 8


def test_profiler_finds_kwinners_and_measures_k_over_n() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), KWinners2d(8, 0.1), nn.Flatten(),
                        nn.Linear(8 * 36, 40), KWinners(40, 0.25),
                        nn.Linear(40, 24), nn.Unflatten(1, (4, 2, 3)),
                        KWinners2d(4, 0.5, local=True))
    assert is_activation(net[1]) and is_activation(net[4])
    prof = actsparse.profile(net, [torch.randn(16, 1, 6, 6) for _ in range(3)])
    assert prof.names == ["1", "4", "7"]
    assert prof["1"].density == pytest.approx(round(0.1 * 288) / 288)
    assert prof["4"].density == pytest.approx(10 / 40)
    assert prof["7"].density == pytest.approx(0.5)


# -- issue 15.8: fewer than k positive inputs --------------------------------------------------
@pytest.mark.skipif(kwinners_kernel() is None,
                    reason="C kernel unavailable (no compiler, or ACTSPARSE_NO_NATIVE)")
@pytest.mark.parametrize("boosted", [False, True])
def test_kernel_and_torch_credit_the_same_zero_winners_on_mnist_features(boosted: bool) -> None:
    from actsparse import zoo

    zm = zoo.load_model("mnist-cnn")
    images = next(iter(zm.batches(zoo.load_data("mnist", limit=64), batch_size=64)))
    with torch.no_grad():
        features = zm.module.features(images).flatten(1)  # (64, 3136) after ReLU and pooling
    k = 3136 // 2  # more winners than positive values in every image: zeros must win too
    assert bool(((features > 0).sum(1) < k).all())
    results = []
    for native in (True, False):
        torch.manual_seed(0)
        kw = KWinners(3136, density=0.5, boost_strength=1.0 if boosted else 0.0)
        kw.native = native
        if boosted:
            kw.duty_cycle.uniform_(0.0, 1.0, generator=torch.Generator().manual_seed(3))
        results.append((kw(features), kw.duty_cycle.clone()))
    (out_c, duty_c), (out_t, duty_t) = results
    assert torch.equal(out_c, out_t)
    assert torch.equal(duty_c, duty_t)  # the same units credited with a win


@pytest.mark.parametrize("native", NATIVE)
def test_k_inference_factor_default_keeps_density_and_paper_value_widens(native: bool) -> None:
    x = torch.randn(8, 100)
    for factor, winners in ((1.0, 10), (1.5, 15)):
        kw = KWinners(100, density=0.1, k_inference_factor=factor).eval()
        kw.native = native
        assert (kw(x) != 0).sum(1).tolist() == [winners] * 8
