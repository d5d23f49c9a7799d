"""Overlap of active sets against brute force; false matches against Monte Carlo; errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.stats import hypergeom
from torch import nn

from actsparse.interpret.overlap import (
    ClassSampler,
    class_overlap,
    false_match_curve,
    false_match_probability,
    log_false_match_probability,
    overlap_from_codes,
    overlap_vs_density,
    random_jaccard,
)


def brute_force_matrix(codes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    classes = np.unique(labels)
    out = np.full((len(classes), len(classes)), np.nan)
    for i, j in itertools.product(range(len(classes)), repeat=2):
        values = []
        for p in np.flatnonzero(labels == classes[i]):
            for q in np.flatnonzero(labels == classes[j]):
                if p == q:
                    continue
                union = np.logical_or(codes[p], codes[q]).sum()
                if union:
                    values.append(np.logical_and(codes[p], codes[q]).sum() / union)
        if values:
            out[i, j] = np.mean(values)
    return out


def test_jaccard_matrix_equals_brute_force():
    rng = np.random.default_rng(0)
    codes = rng.random((30, 25)) < rng.uniform(0.05, 0.6, size=(30, 1))
    codes[3] = False  # an empty code: pairs with it count only where the other is not empty
    codes[7] = False
    labels = rng.integers(0, 4, size=30)
    o = overlap_from_codes(torch.tensor(codes), torch.tensor(labels))
    expected = brute_force_matrix(codes, labels)
    np.testing.assert_allclose(o.matrix.numpy(), expected, rtol=1e-12)
    off = ~np.eye(4, dtype=bool)
    assert o.within == pytest.approx(np.nanmean(np.diag(expected)))
    assert o.between == pytest.approx(np.nanmean(expected[off]))
    assert o.counts == tuple(int((labels == c).sum()) for c in range(4))
    pairs = [(a & b).sum() / (a | b).sum() for a, b in itertools.combinations(codes, 2)
             if (a | b).any()]  # every pair of distinct samples, whatever the classes
    assert o.pairwise == pytest.approx(float(np.mean(pairs)), rel=1e-12)


def test_class_overlap_through_a_model_uses_whole_conv_maps():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(24, 2, 3, 3, generator=gen)
    labels = torch.arange(24) % 3
    net = nn.Sequential(nn.Identity(), nn.ReLU())
    o = class_overlap(net, [(x[:10], labels[:10]), (x[10:], labels[10:])], per_class=100)["1"]
    codes = (x.flatten(1) > 0).numpy()
    np.testing.assert_allclose(o.matrix.numpy(), brute_force_matrix(codes, labels.numpy()))
    assert o.units == 18 and o.density == pytest.approx(float(codes.mean()))


def test_threshold_sets_what_counts_as_active():
    x = torch.tensor([[0.5, 2.0], [0.2, 3.0], [2.0, 0.1], [3.0, 0.3]])
    net = nn.Sequential(nn.Identity(), nn.ReLU())
    labels = torch.tensor([0, 0, 1, 1])
    assert class_overlap(net, [(x, labels)])["1"].between == pytest.approx(1.0)
    o = class_overlap(net, [(x, labels)], threshold=1.0)["1"]
    assert (o.within, o.between, o.density) == (1.0, 0.0, 0.5)


def test_reservoir_keeps_per_class_codes_the_same_across_layers_and_seeded():
    x = torch.rand(50, 6)
    labels = torch.arange(50) % 2
    sampler = ClassSampler(per_class=5, seed=3)
    for i in range(0, 50, 7):
        sampler.update("a", x[i:i + 7], labels[i:i + 7], offset=i)
        sampler.update("b", x[i:i + 7] * 2, labels[i:i + 7], offset=i)
    _, la, ids_a = sampler.codes("a")
    _, _, ids_b = sampler.codes("b")
    assert torch.bincount(la).tolist() == [5, 5]
    assert torch.equal(ids_a, ids_b)
    assert torch.equal(labels[ids_a], la)
    again = ClassSampler(per_class=5, seed=3)
    again.update("a", x, labels)
    assert torch.equal(again.codes("a")[2], ids_a)


def test_reservoir_sample_is_uniform():
    hits = torch.zeros(20)
    runs = 1500
    for seed in range(runs):
        sampler = ClassSampler(per_class=5, seed=seed)
        sampler.update("a", torch.ones(20, 1), torch.zeros(20, dtype=torch.long))
        hits[sampler.codes("a")[2]] += 1
    freq = hits / runs  # each of the 20 samples is kept with probability 5/20
    assert float((freq - 0.25).abs().max()) < 0.06


def test_overlap_vs_density_keeps_k_units_and_breaks_ties_at_random():
    x = torch.zeros(80, 400)  # all ties: codes must be random, so overlap is at chance
    labels = torch.arange(80) % 4
    net = nn.Sequential(nn.Identity(), nn.ReLU())
    curve = overlap_vs_density(net, [(x, labels)], densities=[0.05, 0.2], per_class=20)["1"]
    for o, d in zip(curve, [0.05, 0.2], strict=True):
        assert o.density == d
        assert o.between == pytest.approx(random_jaccard(400, round(d * 400)), rel=0.15)
        assert o.within == pytest.approx(o.chance, rel=0.15)


def test_overlap_vs_density_finds_class_structure():
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(60) % 3
    x = torch.rand(60, 300, generator=gen)
    for c in range(3):  # each class has its own 30 strongest units
        x[labels == c, c * 30:(c + 1) * 30] += 1.0
    net = nn.Sequential(nn.Identity(), nn.ReLU())
    o = overlap_vs_density(net, [(x, labels)], densities=[0.1])["1"][0]
    assert o.within == pytest.approx(1.0) and o.between == pytest.approx(0.0)


# ---- false matches ---------------------------------------------------------------------------

@pytest.mark.parametrize(("n", "a", "s", "theta"), [
    (64, 8, 10, 1), (64, 8, 10, 2), (64, 8, 10, 3), (100, 20, 20, 6), (30, 10, 25, 9),
])
def test_false_match_probability_against_monte_carlo(n, a, s, theta):
    rng = np.random.default_rng(7)
    trials = 100_000
    codes = np.argsort(rng.random((trials, n)), axis=1)[:, :a]  # random a-subsets
    overlap = (codes < s).sum(1)  # the stored pattern is units 0 .. s-1
    estimate = float((overlap >= theta).mean())
    p = false_match_probability(n, a, s, theta)
    sigma = math.sqrt(max(p * (1 - p), 1e-12) / trials)
    assert abs(estimate - p) < 5 * sigma + 1e-5
    assert p == pytest.approx(float(hypergeom.sf(theta - 1, n, s, a)), rel=1e-9)


def test_false_match_edge_cases():
    assert false_match_probability(100, 10, 5, 6) == 0.0  # theta > s
    assert false_match_probability(100, 3, 50, 4) == 0.0  # theta > a
    assert false_match_probability(100, 10, 5, 0) == 1.0
    assert false_match_probability(10, 0, 0, 0) == 1.0
    assert false_match_probability(10, 10, 10, 10) == 1.0  # a = s = n: always all of them
    assert false_match_probability(10**5, 2000, 2000, 1000) == 0.0  # below float range
    log_p = log_false_match_probability(10**5, 2000, 2000, 1000)
    assert -1e6 < log_p < -700
    assert log_false_match_probability(100, 10, 5, 6) == float("-inf")
    curve = false_match_curve(64, 8, 10)
    assert curve == pytest.approx([false_match_probability(64, 8, 10, t) for t in range(9)])


@pytest.mark.parametrize(("args", "message"), [
    ((0, 1, 1, 1), "n"), ((10, 11, 1, 1), "a"), ((10, -1, 1, 1), "a"), ((10, 2, 11, 1), "s"),
    ((10, 2, 3, -1), "theta"), ((10.0, 2, 3, 1), "whole number"), ((10, 2, True, 1), "whole"),
])
def test_false_match_arguments_out_of_range_are_errors(args, message):
    with pytest.raises(ValueError, match=message):
        false_match_probability(*args)


def test_random_jaccard_against_monte_carlo():
    rng = np.random.default_rng(2)
    n, k = 50, 6
    a = np.argsort(rng.random((20_000, n)), axis=1)[:, :k]
    b = np.argsort(rng.random((20_000, n)), axis=1)[:, :k]
    inter = np.array([len(np.intersect1d(x, y)) for x, y in zip(a, b, strict=True)])
    estimate = float(np.mean(inter / (2 * k - inter)))
    assert random_jaccard(n, k) == pytest.approx(estimate, abs=0.004)
    assert math.isnan(random_jaccard(10, 0))
    assert random_jaccard(10, 10) == 1.0


# ---- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "batches", "message"), [
    ({"threshold": -0.1}, [(torch.ones(4, 2), torch.tensor([0, 1, 0, 1]))], "threshold"),
    ({"per_class": 1}, [(torch.ones(4, 2), torch.tensor([0, 1, 0, 1]))], "per_class"),
    ({}, [torch.ones(4, 2)], "has no labels"),
    ({"layers": ["fc"]}, [(torch.ones(4, 2), torch.tensor([0, 1, 0, 1]))], "matches no module"),
    ({}, [(torch.ones(4, 2), torch.tensor([1, 1, 1, 1]))], "at least 2 classes"),
    ({}, [(torch.ones(4, 2), -torch.ones(4, dtype=torch.long))], "no labelled samples"),
])
def test_bad_input_gets_a_clear_error(kwargs, batches, message):
    with pytest.raises(ValueError, match=message):
        class_overlap(nn.Sequential(nn.Identity(), nn.ReLU()), batches, **kwargs)


def test_density_must_be_a_fraction():
    with pytest.raises(ValueError, match="density"):
        overlap_vs_density(nn.Sequential(nn.Identity(), nn.ReLU()),
                           [(torch.rand(4, 3), torch.tensor([0, 1, 0, 1]))], densities=[1.5])
