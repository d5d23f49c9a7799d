"""The overlay figure: per-image firing maps (measured by example_maps) laid over the images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import actsparse
from actsparse.measure.examples import Examples, example_maps
from actsparse.report import write_report
from actsparse.report.overlay import overlay_figure
from actsparse.report.profile_page import render


def digits(k: int) -> torch.Tensor:
    """k handwritten digits from scikit-learn, (k, 1, 16, 16) in [0, 1]."""
    datasets = pytest.importorskip("sklearn.datasets")
    images = torch.tensor(datasets.load_digits().images[:k], dtype=torch.float32) / 16.0
    return F.interpolate(images[:, None], size=(16, 16), mode="bilinear", align_corners=False)


def test_overlay_in_report(conv_net: nn.Module, tmp_path: Path) -> None:
    images = digits(3)
    prof = actsparse.profile(conv_net, [digits(32)])
    ex = example_maps(conv_net, images, images, layers=["act1", "act2"])
    page = write_report(prof, tmp_path, examples=ex).read_text()
    assert page.count("<img ") == 5 + 1 + 1  # plots + spatial maps + overlay
    assert "Firing maps over example images" in page


def test_rgb_random_images_render() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU())
    images = torch.rand(2, 3, 17, 17)
    ex = example_maps(net, images, images)
    prof = actsparse.profile(net, [images])
    assert render(prof, examples=ex).count("data:image/png;base64,") == 5 + 1 + 1


def test_one_row_per_image_one_column_per_layer_thinned() -> None:
    maps = {f"l{i}": torch.rand(3, 4, 4) for i in range(10)}
    fig = overlay_figure(Examples(torch.rand(3, 1, 8, 8), maps), max_layers=4)
    assert len(fig.axes) == 3 * (1 + 4)
    titles = [ax.get_title() for ax in fig.axes[:5]]
    assert titles[0] == "input" and titles[1].startswith("l0") and titles[4].startswith("l9")
