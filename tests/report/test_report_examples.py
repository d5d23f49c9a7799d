"""example_maps and the overlay of per-image firing maps on real input images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import actsparse
from actsparse.report import Examples, example_maps, write_report
from actsparse.report.html import render


def digits(k: int) -> torch.Tensor:
    """k handwritten digits from scikit-learn, (k, 1, 16, 16) in [0, 1]."""
    datasets = pytest.importorskip("sklearn.datasets")
    images = torch.tensor(datasets.load_digits().images[:k], dtype=torch.float32) / 16.0
    return F.interpolate(images[:, None], size=(16, 16), mode="bilinear", align_corners=False)


def test_maps_are_channel_fractions(conv_net: nn.Module) -> None:
    images = digits(4)
    ex = example_maps(conv_net, (images - 0.5) / 0.5, images)
    assert ex.names == ["act1", "act2"]  # act3 is (N, 16): no map
    assert tuple(ex.maps["act1"].shape) == (4, 16, 16)
    assert tuple(ex.maps["act2"].shape) == (4, 8, 8)
    with torch.no_grad():
        expected = (conv_net.act1(conv_net.conv1((images - 0.5) / 0.5)) != 0).float().mean(1)
    torch.testing.assert_close(ex.maps["act1"], expected)
    torch.testing.assert_close(ex.images, images)


def test_overlay_in_report(conv_net: nn.Module, tmp_path: Path) -> None:
    images = digits(3)
    prof = actsparse.profile(conv_net, [digits(32)])
    ex = example_maps(conv_net, images, images, layers=["act1", "act2"])
    page = write_report(prof, tmp_path, examples=ex).read_text()
    assert page.count("<img ") == 5 + 1 + 1  # plots + spatial maps + overlay
    assert "Firing maps over example images" in page


def test_model_left_as_it_came_and_images_capped(conv_net: nn.Module) -> None:
    conv_net.train()
    ex = example_maps(conv_net, torch.rand(20, 1, 16, 16), None)
    assert len(ex) == 8
    assert conv_net.training and all(m.training for m in conv_net.modules())
    assert all(not m._forward_hooks for m in conv_net.modules())
    assert float(ex.images.min()) >= 0.0 and float(ex.images.max()) <= 1.0


def test_rgb_random_images_render() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU())
    images = torch.rand(2, 3, 17, 17)
    ex = example_maps(net, images, images)
    prof = actsparse.profile(net, [images])
    assert render(prof, examples=ex).count("data:image/png;base64,") == 5 + 1 + 1


def test_clear_errors() -> None:
    dense = nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.ReLU())
    with pytest.raises(ValueError, match="4D"):
        example_maps(dense, torch.rand(2, 1, 2, 2), None)
    with pytest.raises(ValueError, match="C = 1 or 3"):
        Examples(torch.rand(2, 5, 4, 4), {})
    with pytest.raises(ValueError, match="K=2"):
        Examples(torch.rand(2, 1, 4, 4), {"x": torch.rand(3, 2, 2)})
