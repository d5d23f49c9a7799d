"""Numenta's noise protocol: exact counts, the white value, determinism, the score."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from actsparse import zoo
from actsparse.study.noise import (
    NOISE_LEVELS,
    add_noise,
    noise_count,
    noise_curve,
    white_value,
)
from actsparse.train.run_metrics import evaluate


def test_levels_are_numentas() -> None:
    numenta = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]  # runNoiseTests
    assert list(NOISE_LEVELS) == numenta


@pytest.mark.parametrize("level", NOISE_LEVELS)
def test_exactly_int_p_times_pixels_are_set(level: float) -> None:
    images = zoo.load_data("mnist", split="test", limit=50).images
    noisy = add_noise(images, level, 0.7469, torch.Generator().manual_seed(3))
    white = noisy == 0.7469  # no MNIST pixel (k / 255) is 0.7469 before the noise
    assert white.flatten(1).sum(1).tolist() == [int(784 * level)] * 50  # Numenta: int(P * p)
    assert torch.equal(noisy[~white], images[~white])


def test_counts_of_pixels() -> None:
    assert [noise_count(784, p) for p in NOISE_LEVELS] == [
        0, 39, 78, 117, 156, 196, 235, 274, 313, 352, 392]


def test_pixels_are_distinct_and_vary_by_image() -> None:
    x = torch.zeros(200, 1, 6, 6)
    y = add_noise(x, 0.5, 1.0, torch.Generator().manual_seed(0))
    assert bool(((y == 1.0).flatten(1).sum(1) == 18).all())  # without replacement
    assert len({tuple(r.tolist()) for r in (y == 1.0).flatten(1)}) > 150


def test_noise_is_deterministic_and_the_input_is_kept() -> None:
    x = torch.rand(30, 1, 8, 8)
    before = x.clone()
    a = add_noise(x, 0.3, 2.0, torch.Generator().manual_seed(7))
    b = add_noise(x, 0.3, 2.0, torch.Generator().manual_seed(7))
    c = add_noise(x, 0.3, 2.0, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c) and torch.equal(x, before)


def test_channels_are_flattened_together() -> None:
    x = torch.zeros(4, 3, 4, 4)
    y = add_noise(x, 0.25, 1.0, torch.Generator().manual_seed(0))
    assert (y == 1.0).flatten(1).sum(1).tolist() == [12] * 4


def test_white_value() -> None:
    assert white_value("mnist") == pytest.approx(0.1307 + 2 * 0.3081)
    train = zoo.load_data("digits", split="train").images
    assert white_value("digits", train) == pytest.approx(
        float(train.double().mean() + 2 * train.double().std()))
    with pytest.raises(ValueError, match="needs the training images"):
        white_value("fashion-mnist")


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="fraction in"):
        noise_count(784, 1.5)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        add_noise(torch.zeros(3, 4), 0.1, 1.0, torch.Generator())
    with pytest.raises(ValueError, match="labels"):
        noise_curve(nn.Flatten(), torch.zeros(3, 1, 2, 2), torch.zeros(2, dtype=torch.long),
                    white=1.0)


def test_curve_at_level_zero_is_the_test_accuracy() -> None:
    zm = zoo.load_model("mnist-cnn")
    data = zoo.load_data("mnist", split="test", limit=300)
    net = nn.Sequential(_Raw(), zm.module)  # the pretrained CNN on [0, 1] images
    acc, _ = evaluate(net, data.images, data.labels)
    curve = noise_curve(net, data.images, data.labels, white=white_value("mnist"),
                        levels=(0.0, 0.25, 0.5))
    assert curve[0] == round(acc * 300)
    assert curve[0] > curve[1] > curve[2]  # a dense CNN loses accuracy with noise
    assert curve == noise_curve(net, data.images, data.labels, white=white_value("mnist"),
                                levels=(0.0, 0.25, 0.5))


class _Raw(nn.Module):
    """The zoo CNN's own normalisation in front of it, so it takes [0, 1] images."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - 0.1307) / 0.3081
