"""example_maps: per-image fractions of active channels of conv layers; the model unchanged."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actsparse.measure.examples import Examples, example_maps


@pytest.fixture
def conv_net() -> nn.Sequential:
    """Two conv layers and a linear layer, each followed by an activation (3 layers, 2 conv)."""
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(1, 6, 3, padding=1), act1=nn.ReLU(),  # (N, 6, 16, 16)
        conv2=nn.Conv2d(6, 8, 3, stride=2, padding=1), act2=nn.ReLU(),  # (N, 8, 8, 8)
        flat=nn.Flatten(), fc=nn.Linear(8 * 8 * 8, 16), act3=nn.GELU()))  # (N, 16)


def digits(k: int) -> torch.Tensor:
    """k handwritten digits from scikit-learn, (k, 1, 16, 16) in [0, 1]."""
    datasets = pytest.importorskip("sklearn.datasets")
    images = torch.tensor(datasets.load_digits().images[:k], dtype=torch.float32) / 16.0
    return F.interpolate(images[:, None], size=(16, 16), mode="bilinear", align_corners=False)


def test_maps_are_channel_fractions(conv_net: nn.Sequential) -> None:
    images = digits(4)
    ex = example_maps(conv_net, (images - 0.5) / 0.5, images)
    assert ex.names == ["act1", "act2"]  # act3 is (N, 16): no map
    assert tuple(ex.maps["act1"].shape) == (4, 16, 16)
    assert tuple(ex.maps["act2"].shape) == (4, 8, 8)
    with torch.no_grad():
        expected = (conv_net.act1(conv_net.conv1((images - 0.5) / 0.5)) != 0).float().mean(1)
    torch.testing.assert_close(ex.maps["act1"], expected)
    torch.testing.assert_close(ex.images, images)


def test_model_left_as_it_came_and_images_capped(conv_net: nn.Sequential) -> None:
    conv_net.train()
    ex = example_maps(conv_net, torch.rand(20, 1, 16, 16), None)
    assert len(ex) == 8
    assert conv_net.training and all(m.training for m in conv_net.modules())
    assert all(not m._forward_hooks for m in conv_net.modules())
    assert float(ex.images.min()) >= 0.0 and float(ex.images.max()) <= 1.0


def test_model_left_as_it_came_when_the_forward_fails(conv_net: nn.Sequential) -> None:
    conv_net.train()
    with pytest.raises(RuntimeError):
        example_maps(conv_net, torch.rand(2, 3, 16, 16), None)  # 3 channels into Conv2d(1, ...)
    assert all(m.training for m in conv_net.modules())
    assert all(not m._forward_hooks for m in conv_net.modules())


def test_clear_errors() -> None:
    dense = nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.ReLU())
    with pytest.raises(ValueError, match="4D"):
        example_maps(dense, torch.rand(2, 1, 2, 2), None)
    with pytest.raises(ValueError, match="C = 1 or 3"):
        Examples(torch.rand(2, 5, 4, 4), {})
    with pytest.raises(ValueError, match="K=2"):
        Examples(torch.rand(2, 1, 4, 4), {"x": torch.rand(3, 2, 2)})


def test_spectrogram_examples_carry_their_words(conv_net: nn.Sequential) -> None:
    ex = example_maps(conv_net, torch.randn(3, 1, 16, 16), captions=["yes", "no", "up", "down"],
                      kind="spectrogram", max_images=2)
    assert ex.kind == "spectrogram" and ex.captions == ["yes", "no"]
    with pytest.raises(ValueError, match="3 captions for 2 images"):
        Examples(torch.rand(2, 1, 8, 8), {}, ["a", "b", "c"])
    with pytest.raises(ValueError, match="a spectrogram has one channel"):
        Examples(torch.rand(2, 3, 8, 8), {}, kind="spectrogram")
