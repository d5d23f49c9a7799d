"""The seeded class reservoir: its sample is a function of the (index, label) pairs seen."""

from __future__ import annotations

import pytest
import torch

from actsparse.interpret.class_sampler import ClassSampler, kept_rows, sample_keys


def stream(n: int = 90, units: int = 6, classes: int = 3, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.relu(torch.randn(n, units, generator=gen))
    labels = torch.randint(0, classes, (n,), generator=gen)
    labels[::11] = -1
    return x, labels


def feed(sampler: ClassSampler, x, labels, lo: int, hi: int, batch: int) -> ClassSampler:
    for i in range(lo, hi, batch):
        j = min(i + batch, hi)
        sampler.update("a", x[i:j], labels[i:j], offset=i)
    return sampler


def assert_same(a: ClassSampler, b: ClassSampler) -> None:
    for got, want in zip(a.codes("a"), b.codes("a"), strict=True):
        assert torch.equal(got, want)
    assert torch.equal(a.values("a"), b.values("a"))
    assert torch.equal(a.rates("a"), b.rates("a"))
    torch.testing.assert_close(a.overlaps()["a"].matrix, b.overlaps()["a"].matrix, equal_nan=True)


@pytest.mark.parametrize("batch", [1, 7, 90])
def test_the_sample_does_not_depend_on_batching(batch):
    x, labels = stream()
    make = lambda: ClassSampler(4, seed=1, keep_values=True)  # noqa: E731
    assert_same(feed(make(), x, labels, 0, 90, batch), feed(make(), x, labels, 0, 90, 90))


def test_merged_shards_equal_one_pass_over_the_union_in_any_order():
    x, labels = stream()
    make = lambda: ClassSampler(4, seed=1, keep_values=True)  # noqa: E731
    whole = feed(make(), x, labels, 0, 90, 16)
    a, b, c = (feed(make(), x, labels, lo, hi, 5) for lo, hi in ((0, 20), (20, 61), (61, 90)))
    assert_same(a.merge(b).merge(c), whole)
    assert_same(c.merge(a.merge(b)), whole)
    assert a.codes("a")[0].shape[0] <= 3 * 4  # the inputs are left as they were


def test_each_class_keeps_its_largest_keys():
    x, labels = stream(n=200)
    sampler = feed(ClassSampler(5, seed=7), x, labels, 0, 200, 32)
    _, kept_labels, ids = sampler.codes("a")
    keys = sample_keys(7, torch.arange(200))
    for c in range(3):
        members = torch.nonzero(labels == c).flatten()
        best = members[keys[members].topk(5).indices].sort().values
        assert torch.equal(ids[kept_labels == c], best)
    assert torch.equal(labels[ids], kept_labels)


def test_kept_rows_orders_by_label_then_index():
    labels, ids = torch.tensor([1, 0, 1, 0, 1]), torch.tensor([9, 4, 2, 8, 5])
    rows = kept_rows(labels, ids, seed=0, per_class=10)
    assert labels[rows].tolist() == [0, 0, 1, 1, 1] and ids[rows].tolist() == [4, 8, 2, 5, 9]


def test_merge_refuses_other_settings_and_layers():
    x, labels = stream()
    a = feed(ClassSampler(4, seed=1), x, labels, 0, 30, 10)
    with pytest.raises(ValueError, match="seed"):
        a.merge(feed(ClassSampler(4, seed=2), x, labels, 30, 60, 10))
    other = ClassSampler(4, seed=1)
    other.update("b", x[:5], labels[:5])
    with pytest.raises(ValueError, match="different layers"):
        a.merge(other)


def test_reset_forgets_the_samples_but_keeps_the_layer():
    x, labels = stream()
    sampler = feed(ClassSampler(4, seed=1), x, labels, 0, 30, 10).reset()
    assert sampler.names == ["a"]
    with pytest.raises(ValueError, match="no labelled samples"):
        sampler.codes("a")
