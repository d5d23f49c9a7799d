"""Top activating examples: streaming equals brute force; conv patches are receptive fields."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actsparse.interpret.top_examples import (
    TopExamples,
    receptive_field,
    receptive_field_by_gradient,
    top_examples,
)


def chunks(x: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    out, start = [], 0
    for s in sizes:
        out.append(x[start:start + s])
        start += s
    return out


def test_streaming_top_k_equals_brute_force_over_all_data():
    x = torch.randn(137, 20, generator=torch.Generator().manual_seed(0))
    net = nn.Sequential(nn.Identity(), nn.Tanh())
    top = top_examples(net, chunks(x, [1, 30, 64, 42]), k=7)["1"]
    best, idx = torch.tanh(x).T.topk(7, dim=1)  # (units, k) over all samples at once
    torch.testing.assert_close(top.values, best)
    assert torch.equal(top.samples, idx)
    assert top.kind == "vector" and top.positions.shape == (20, 7, 0)


def test_conv_units_keep_each_samples_peak_and_its_position():
    x = torch.randn(40, 3, 6, 5, generator=torch.Generator().manual_seed(1))
    top = top_examples(nn.Sequential(nn.Identity(), nn.ReLU()), chunks(x, [13, 27]), k=4)["1"]
    flat = torch.relu(x).flatten(2)  # (N, C, H*W)
    peak, where = flat.max(2)  # (N, C)
    best, idx = peak.T.topk(4, dim=1)
    torch.testing.assert_close(top.values, best)
    assert torch.equal(top.samples, idx)
    expected = where.T.gather(1, idx)  # flat positions
    assert torch.equal(top.positions[..., 0] * 5 + top.positions[..., 1], expected)
    assert top.kind == "spatial" and top.spatial == (6, 5)


def test_token_layers_never_pick_padding():
    class Embed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.act = nn.Identity()

        def forward(self, input_ids, attention_mask):
            return self.act(input_ids.float().unsqueeze(-1))  # (B, T, 1)

    ids = torch.tensor([[1, 2, 99], [5, 3, 99]])  # 99 only in padding
    mask = torch.tensor([[1, 1, 0], [1, 1, 0]])
    top = top_examples(Embed(), [{"input_ids": ids, "attention_mask": mask}], k=2,
                       layers=["act"])["act"]
    assert top.values.tolist() == [[5.0, 2.0]]
    assert top.samples.tolist() == [[1, 0]] and top.positions[..., 0].tolist() == [[0, 1]]
    assert top.kind == "token"


def test_fewer_samples_than_k_are_padded():
    top = top_examples(nn.Sequential(nn.Identity(), nn.ReLU()), [torch.ones(2, 3)], k=5)["1"]
    assert top.samples[0].tolist() == [0, 1, -1, -1, -1]
    assert top.to_dict()["values"][0][2:] == [None, None, None]


def test_labelled_batches_are_accepted_and_sample_indices_run_across_batches():
    batches = [(torch.zeros(3, 2), torch.zeros(3)), (torch.tensor([[0.0, 9.0]]), torch.zeros(1))]
    top = top_examples(nn.Sequential(nn.Identity(), nn.ReLU()), batches, k=1)["1"]
    assert top.samples[1].tolist() == [3]


@pytest.mark.parametrize("k", [0, -3, 1.5, True])
def test_k_must_be_a_whole_number_at_least_one(k):
    with pytest.raises(ValueError, match="k"):
        TopExamples(k)


def test_a_layer_that_does_not_exist_is_an_error():
    with pytest.raises(ValueError, match="matches no module"):
        top_examples(nn.Sequential(nn.ReLU()), [torch.ones(2, 2)], layers=["fc9"])


# ---- receptive fields --------------------------------------------------------------------------

def test_receptive_field_of_a_known_chain():
    # conv3 (pad 1) -> pool2 -> conv3 (pad 1): 3 -> 4 (jump 2) -> 4 + 2*2 = 8 pixels
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(2, 2, 3, padding=1), nn.ReLU())
    assert receptive_field(net, "1").size == (3, 3)
    rf = receptive_field(net, "4", check=((28, 28), (14, 14)))
    assert (rf.size, rf.jump, rf.start) == ((8, 8), (2, 2), (-3, -3))
    assert rf.box((5, 0), (28, 28)) == (7, 0, 15, 5)
    assert receptive_field(net, "3:input").size == (4, 4)  # before the second conv


LINEAR_CHAINS = [
    [nn.Conv2d(1, 1, 3, padding=1), nn.AvgPool2d(2), nn.Conv2d(1, 1, 3, padding=1)],
    [nn.Conv2d(1, 1, 5, stride=2), nn.Conv2d(1, 1, 3, dilation=2)],
    [nn.Conv2d(1, 1, (3, 5), padding=(0, 2)), nn.AvgPool2d(3, stride=2, padding=1),
     nn.Conv2d(1, 1, 3, padding="same")],
]


@pytest.mark.parametrize("chain", LINEAR_CHAINS)
@pytest.mark.parametrize("position", [(0, 0), (2, 3), (-1, -1)])
def test_chain_receptive_field_equals_the_gradient_box(chain, position):
    net = nn.Sequential(*chain)
    for m in net:  # positive weights, no nonlinearity: every pixel of the field has a gradient
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 1.0)
    x = torch.ones(1, 1, 23, 21)
    out_hw = tuple(net(x).shape[2:])
    last = str(len(chain) - 1)
    rf = receptive_field(net, last, check=((23, 21), out_hw))
    pos = tuple(p % s for p, s in zip(position, out_hw, strict=True))
    assert rf.box(pos, (23, 21)) == receptive_field_by_gradient(net, last, x, pos)


def test_patch_of_the_peak_contains_the_pixel_that_drove_it():
    net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3),
                        nn.ReLU())
    for m in (net[0], net[3]):
        nn.init.constant_(m.weight, 1.0)
        nn.init.zeros_(m.bias)
    images = torch.zeros(6, 1, 20, 20)
    spots = [(2, 3), (10, 10), (17, 1), (0, 19), (12, 5), (19, 19)]
    for i, (r, c) in enumerate(spots):
        images[i, 0, r, c] = 1.0 + i  # later images peak higher
    top = top_examples(net, [images], k=6)["4"]
    rf = receptive_field(net, "4", check=((20, 20), top.spatial))
    for sample, pos in zip(top.samples[0], top.positions[0], strict=True):
        t, left, b, right = rf.box(pos.tolist(), (20, 20))
        r, c = spots[int(sample)]
        assert t <= r < b and left <= c < right


def test_chain_that_is_not_plain_is_refused():
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.act(F.max_pool2d(self.conv(x), 2))

    with pytest.raises(ValueError, match="does more than a plain chain"):
        receptive_field(Functional(), "act", check=((12, 12), (5, 5)))
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.ReLU())
    with pytest.raises(ValueError, match="not a conv/pool chain"):
        receptive_field(mlp, "2")
    with pytest.raises(ValueError, match="not a module"):
        receptive_field(mlp, "nope")


def test_merged_shards_equal_one_pass_with_ties_going_to_the_smaller_index():
    gen = torch.Generator().manual_seed(3)
    x = torch.randint(0, 4, (60, 5), generator=gen).float()  # many ties
    whole, a, b = TopExamples(k=6), TopExamples(k=6), TopExamples(k=6)
    whole.update("fc", x, offset=0)
    for i in range(0, 60, 9):
        (a if i < 27 else b).update("fc", x[i:i + 9], offset=i)
    for merged in (a.merge(b), b.merge(a)):
        got, want = merged.compute()["fc"], whole.compute()["fc"]
        assert torch.equal(got.values, want.values) and torch.equal(got.samples, want.samples)
    best = whole.compute()["fc"]
    order = torch.stack([torch.tensor(sorted(range(60), key=lambda s: (-x[s, u], s))[:6])
                         for u in range(5)])
    assert torch.equal(best.samples, order)
    with pytest.raises(ValueError, match="k=6 and k=2"):
        a.merge(TopExamples(k=2))
