"""Numenta's speech noise test: the blend, its determinism, noise before the features, the score."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from actsparse.study.noise import NOISE_LEVELS
from actsparse.study.speech_noise import (
    CHUNK,
    blend_noise,
    numenta_test_clips,
    speech_noise_curve,
)
from actsparse.train.speech_inputs import speech_features


def _waves(n: int = 6, t: int = 16000) -> Tensor:
    return 0.3 * torch.sin(torch.arange(t) * 0.05)[None] * torch.linspace(0.2, 1.0, n)[:, None]


def test_levels_are_numentas() -> None:
    assert list(NOISE_LEVELS) == [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]


@pytest.mark.parametrize("level", [0.05, 0.25, 0.5])
def test_blend_is_one_minus_a_times_x_plus_a_times_uniform_noise(level: float) -> None:
    x = _waves(8)
    y = blend_noise(x, level, torch.Generator().manual_seed(1))
    noise = (y - (1 - level) * x) / level  # what was blended in
    assert bool((noise.abs() <= 1 + 1e-4).all())  # uniform in [-1, 1] (AddNoise's maxVal=1)
    assert abs(float(noise.mean())) < 0.01 and abs(float(noise.var()) - 1 / 3) < 0.01
    assert torch.equal(x, _waves(8))  # the input is left as it is


def test_level_zero_leaves_the_clips_unchanged() -> None:
    x = _waves()
    assert torch.equal(blend_noise(x, 0.0, torch.Generator().manual_seed(0)), x)


def test_noise_is_seeded_and_differs_by_clip_and_seed() -> None:
    x = torch.zeros(2 * CHUNK + 3, 100)
    a = blend_noise(x, 0.5, torch.Generator().manual_seed(7))
    b = blend_noise(x, 0.5, torch.Generator().manual_seed(7))
    c = blend_noise(x, 0.5, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a[0], a[1]) and not torch.equal(a[0], a[CHUNK])


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="blend fraction in"):
        blend_noise(_waves(), 1.5, torch.Generator())
    with pytest.raises(ValueError, match=r"must be \(N, T\)"):
        blend_noise(torch.zeros(16000), 0.1, torch.Generator())
    with pytest.raises(ValueError, match="6 clips but 5 labels"):
        speech_noise_curve(nn.Identity(), _waves(), torch.zeros(5, dtype=torch.long))


def test_silence_is_dropped_as_in_numentas_test_set() -> None:
    waves, labels = _waves(5), torch.tensor([0, 11, 3, 11, 10])
    classes = [str(i) for i in range(10)] + ["unknown", "silence"]
    w, y = numenta_test_clips(waves, labels, classes)
    assert y.tolist() == [0, 3, 10] and torch.equal(w, waves[[0, 2, 4]])


class _Recorder(nn.Module):
    """Predicts class 0 when the feature map's mean is above 0 and logs the inputs it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        self.seen.append(x.clone())
        score = x.flatten(1).mean(1)
        return torch.stack([score, -score], dim=1)


def test_noise_goes_into_the_waveform_before_the_features() -> None:
    x, y = _waves(), torch.zeros(6, dtype=torch.long)
    waves_seen: list[Tensor] = []

    def features(w: Tensor) -> Tensor:
        waves_seen.append(w.clone())
        return w[:, None, None, :]

    net = _Recorder()
    speech_noise_curve(net, x, y, features=features, levels=(0.0, 0.3), seed=2, batch_size=4)
    assert torch.equal(torch.cat(waves_seen[:2]), x)  # level 0: the clips themselves
    expected = blend_noise(x, 0.3, torch.Generator().manual_seed(2 * 1000 + 1))
    assert torch.equal(torch.cat(waves_seen[2:]), expected)  # level i: seed * 1000 + i


def test_curve_counts_correct_predictions_and_ignores_the_batch_size() -> None:
    x = _waves(10)
    y = torch.tensor([0, 1] * 5)
    net = _Recorder()
    curves = [speech_noise_curve(net, x, y, features=lambda w: w[:, None, None, :] - 0.0005,
                                 batch_size=b, seed=3) for b in (3, 256)]
    assert curves[0] == curves[1] and len(curves[0]) == len(NOISE_LEVELS)
    expect = []
    for i, level in enumerate(NOISE_LEVELS):
        noisy = blend_noise(x, level, torch.Generator().manual_seed(3000 + i))
        pred = (noisy.mean(1) - 0.0005 <= 0).long()  # class 1 where the score is not above 0
        expect.append(int((pred == y).sum()))
    assert curves[0] == expect


def test_noise_lowers_the_accuracy_of_a_real_feature_pipeline() -> None:
    # a readout of the log-mels that tells a low tone from a high one: noise blurs them
    t = torch.arange(16000)
    low, high = torch.sin(t * 0.05), torch.sin(t * 1.5)
    x = 0.002 * torch.cat([low.expand(20, -1), high.expand(20, -1)])  # quiet: noise wins
    y = torch.tensor([0] * 20 + [1] * 20)
    low_bands = speech_features(low[None])[0, 0].mean(1) > 0  # (40,): bands lit by the low tone

    class Readout(nn.Module):
        def forward(self, f: Tensor) -> Tensor:  # (B, 1, 40, 98)
            lit = f[:, 0].mean(2)[:, low_bands].mean(1) - f[:, 0].mean(2)[:, ~low_bands].mean(1)
            return torch.stack([lit, -lit], dim=1)

    curve = speech_noise_curve(Readout(), x, y)
    assert curve[0] == 40 and curve[-1] < curve[0]
