"""Class selectivity: the index of Morcos et al. on units with known answers, streaming, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from actsparse.interpret.selectivity import SelectivityState, class_selectivity, selectivity_index


def one_class_units(n: int, classes: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit c fires (with a random size) only for class c; the last unit is 1 for everyone."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % classes
    x = torch.zeros(n, classes + 1)
    x[torch.arange(n), labels] = torch.rand(n, generator=gen) + 0.5
    x[:, classes] = 1.0
    return x, labels


def test_units_firing_for_one_class_have_index_one_and_the_right_preferred_class():
    x, labels = one_class_units(60, 4)
    net = nn.Sequential(nn.Identity(), nn.ReLU())
    sel = class_selectivity(net, [(x, labels)])["1"]
    torch.testing.assert_close(sel.index[:4], torch.ones(4, dtype=torch.float64))
    assert sel.preferred[:4].tolist() == [0, 1, 2, 3]
    assert sel.index[4] == pytest.approx(0.0, abs=1e-12)  # the same for every class
    assert sel.mean_index == pytest.approx(4 / 5)
    assert sel.counts.tolist() == [15, 15, 15, 15]


def test_index_matches_the_formula_computed_by_hand():
    rng = np.random.default_rng(1)
    acts = rng.exponential(size=(200, 7)) * (rng.random((200, 7)) < 0.4)
    labels = rng.integers(0, 5, size=200)
    net = nn.Sequential(nn.Identity(), nn.ReLU())
    sel = class_selectivity(net, [(torch.tensor(acts, dtype=torch.float32), torch.tensor(labels))])
    means = np.stack([acts[labels == c].mean(0) for c in range(5)])  # (classes, units)
    top = means.max(0)
    rest = (means.sum(0) - top) / 4
    expected = (top - rest) / (top + rest)
    np.testing.assert_allclose(sel["1"].index.numpy(), expected, rtol=1e-5)
    assert sel["1"].preferred.tolist() == means.argmax(0).tolist()
    np.testing.assert_allclose(sel["1"].class_means.numpy(), means, rtol=1e-5)


def test_streaming_over_batches_equals_one_batch_and_merge_equals_union():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(90, 3, 5, 5, generator=gen)
    labels = torch.randint(0, 6, (90,), generator=gen)
    net = nn.Sequential(nn.Identity(), nn.ReLU())
    whole = class_selectivity(net, [(x, labels)])["1"]
    parts = class_selectivity(net, [(x[i:i + 16], labels[i:i + 16]) for i in range(0, 90, 16)])
    torch.testing.assert_close(parts["1"].index, whole.index)
    torch.testing.assert_close(parts["1"].class_means, whole.class_means)
    a, b = SelectivityState(), SelectivityState()
    a.update("1", torch.relu(x[:40]), labels[:40])
    b.update("1", torch.relu(x[40:]), labels[40:])
    torch.testing.assert_close(a.merge(b).compute()["1"].index, whole.index)


def test_conv_units_are_channels_averaged_over_space():
    x = torch.rand(8, 2, 4, 4)
    labels = torch.tensor([0, 1] * 4)
    sel = class_selectivity(nn.Sequential(nn.Identity(), nn.ReLU()), [(x, labels)])["1"]
    expected = torch.stack([x[labels == c].mean((0, 2, 3)) for c in (0, 1)]).double()
    torch.testing.assert_close(sel.class_means, expected)
    assert sel.index.shape == (2,)


def test_padding_tokens_do_not_count_in_token_layers():
    class Embed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(10, 4)
            self.act = nn.ReLU()

        def forward(self, input_ids, attention_mask):
            return self.act(self.emb(input_ids))

    net = Embed()
    ids = torch.tensor([[1, 2, 0, 0], [3, 4, 5, 0]])
    mask = (ids != 0).long()
    labels = torch.tensor([0, 1])
    padded = class_selectivity(net, [({"input_ids": ids, "attention_mask": mask}, labels)])
    short = [({"input_ids": ids[i:i + 1, :n], "attention_mask": mask[i:i + 1, :n]}, labels[i:i + 1])
             for i, n in ((0, 2), (1, 3))]
    torch.testing.assert_close(padded["act"].class_means,
                               class_selectivity(net, short)["act"].class_means)


def test_units_that_never_fire_get_nan_and_are_left_out_of_the_mean():
    x = torch.tensor([[1.0, -1.0], [0.0, -2.0], [2.0, 0.0]])
    sel = class_selectivity(nn.Sequential(nn.Identity(), nn.ReLU()),
                            [(x, torch.tensor([0, 1, 1]))])["1"]
    assert torch.isnan(sel.index[1]) and sel.preferred[1] == -1
    assert sel.fired.tolist() == [True, False]
    assert sel.mean_index == pytest.approx(float(sel.index[0]))
    assert sel.to_dict()["index"][1] is None


def test_negative_activations_are_rectified_for_the_index():
    x = torch.tensor([[-1.0], [2.0], [-3.0], [0.5]])
    sel = class_selectivity(nn.Sequential(nn.Identity(), nn.Identity()),
                            [(x, torch.tensor([0, 1, 0, 1]))], layers=["1"])["1"]
    assert sel.index.tolist() == [1.0]
    assert sel.class_means[:, 0].tolist() == [-2.0, 1.25]


def test_unknown_labels_are_skipped():
    x, labels = one_class_units(20, 2)
    labels = labels.clone()
    labels[:4] = -1
    sel = class_selectivity(nn.Sequential(nn.Identity(), nn.ReLU()), [(x, labels)])["1"]
    assert sel.counts.tolist() == [8, 8]


@pytest.mark.parametrize(("batches", "kwargs", "message"), [
    ([torch.rand(4, 3)], {}, "has no labels"),
    ([(torch.rand(4, 3), torch.rand(4))], {}, "integer tensor"),
    ([(torch.rand(4, 3), torch.tensor([0, 1, 2, 3]))], {"num_classes": 3}, "out of range"),
    ([(torch.rand(4, 3), torch.zeros(4, dtype=torch.long))], {}, "at least 2 classes"),
    ([(torch.rand(4, 3), torch.tensor([0, 1, 0, 1]))], {"layers": ["nope"]}, "matches no module"),
    ([(torch.rand(4, 3), torch.tensor([0, 1, 0]))], {}, "3 labels for an output of batch size 4"),
    ([], {}, "empty"),
    ([(torch.rand(4, 3), torch.tensor([0, 1, 0, 1]))], {"num_classes": 1}, "at least 2"),
])
def test_bad_input_gets_a_clear_error(batches, kwargs, message):
    with pytest.raises(ValueError, match=message):
        class_selectivity(nn.Sequential(nn.Identity(), nn.ReLU()), batches, **kwargs)


def test_selectivity_index_needs_non_negative_means():
    with pytest.raises(ValueError, match="non-negative"):
        selectivity_index(torch.tensor([[-1.0], [1.0]]))


def test_merge_pads_states_that_saw_fewer_classes():
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(50, 3, generator=gen)
    labels = torch.cat([torch.randint(0, 2, (20,), generator=gen),
                        torch.randint(0, 5, (30,), generator=gen)])
    a, b, whole = SelectivityState(), SelectivityState(), SelectivityState()
    a.update("fc", x[:20], labels[:20])
    b.update("fc", x[20:], labels[20:])
    whole.update("fc", x, labels)
    for merged in (a.merge(b), b.merge(a)):
        got, want = merged.compute()["fc"], whole.compute()["fc"]
        assert got.counts.tolist() == want.counts.tolist() == torch.bincount(labels).tolist()
        torch.testing.assert_close(got.class_means, want.class_means, equal_nan=True)
        torch.testing.assert_close(got.index, want.index, equal_nan=True)
    assert a.layers["fc"].state["counts"].numel() == 2  # the inputs are left as they were
    with pytest.raises(ValueError, match="num_classes=None and 5"):
        a.merge(SelectivityState(num_classes=5))
