"""Numenta's noise test for speech: white noise blended into the waveform, before the features.

The protocol of "How Can We Be So Dense?" (Ahmad & Scheinkman 2019) on Google Speech Commands
as their code runs it (``runNoiseTests`` in htmpapers'
``arxiv/how_can_we_be_so_dense/src/pytorch/sparse_speech_experiment.py``, with ``AddNoise``
of its ``audio_transforms.py``): for each noise level ``a`` in ``0, 0.05, ..., 0.5`` (11),
every test clip, cut or padded to 1 s, becomes

    x' = (1 - a) * x + a * u,    u ~ Uniform[-1, 1], one draw per sample

on the float waveform in ``[-1, 1]`` (librosa's ``load``; ``AddNoise(maxVal=1.0)``), and only
then goes through the features (their STFT and mel spectrogram; here the model's own log-mels,
:func:`~actsparse.train.speech_inputs.speech_features`) into the network. Their test set has no
silence clips (``SpeechCommandsDataset(..., silence_percentage=0)``), so
:func:`numenta_test_clips` drops the silence class. The noise score is the number of correct
predictions summed over the 11 levels.

Unlike Numenta's (an unseeded ``np.random.uniform`` per clip), the noise here is deterministic:
level ``i`` draws from a generator seeded with ``seed * 1000 + i`` (as the image test,
:mod:`actsparse.study.noise`), in chunks of :data:`CHUNK` clips, so every model sees exactly
the same noisy clips whatever its batch size (a paired comparison).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from actsparse._hooks import evaluating
from actsparse.study.noise import NOISE_LEVELS
from actsparse.train.speech_inputs import speech_features

CHUNK = 256  # clips noised per draw; fixed, so the noise does not depend on a batch size
MAX_VALUE = 1.0  # AddNoise's maxVal: the noise is uniform in [-1, 1], the waveform's range


def blend_noise(waves: Tensor, level: float, generator: torch.Generator,
                max_value: float = MAX_VALUE) -> Tensor:
    """``(1 - level) * waves + level * u`` with ``u`` uniform in ``[-max_value, max_value]``,
    one draw per sample of waves ``(N, T)`` (a new tensor; ``waves`` is left as it is).

    Example:
        >>> x = torch.zeros(2, 5)
        >>> y = blend_noise(x, 0.5, torch.Generator().manual_seed(0))
        >>> bool((y.abs() <= 0.5).all()), bool((y != 0).all()), bool((x == 0).all())
        (True, True, True)
    """
    if waves.dim() != 2:
        raise ValueError(f"waves must be (N, T), got shape {tuple(waves.shape)}")
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"a noise level is a blend fraction in [0, 1], got {level}")
    out = torch.empty_like(waves, dtype=torch.float32)
    for i in range(0, waves.shape[0], CHUNK):
        part = waves[i:i + CHUNK].float()
        noise = (torch.rand(part.shape, generator=generator) * 2 - 1) * max_value  # (n, T)
        out[i:i + CHUNK] = (1 - level) * part + level * noise
    return out


def numenta_test_clips(waves: Tensor, labels: Tensor, classes: Sequence[str]
                       ) -> tuple[Tensor, Tensor]:
    """The clips Numenta's noise test runs on: all but the 'silence' class.

    Example:
        >>> w, y = numenta_test_clips(torch.zeros(3, 4), torch.tensor([0, 2, 1]),
        ...                           ["yes", "unknown", "silence"])
        >>> w.shape[0], y.tolist()
        (2, [0, 1])
    """
    if len(waves) != len(labels):
        raise ValueError(f"{len(waves)} clips but {len(labels)} labels")
    if "silence" not in classes:
        return waves, labels
    keep = labels != list(classes).index("silence")
    return waves[keep], labels[keep]


def speech_noise_curve(
    model: nn.Module,
    waves: Tensor,
    labels: Tensor,
    *,
    features: Callable[[Tensor], Tensor] = speech_features,
    levels: Sequence[float] = NOISE_LEVELS,
    seed: int = 0,
    batch_size: int = 256,
) -> list[int]:
    """Correct predictions of ``model`` (in eval mode, restored after) on ``features`` of the
    noisy clips at each level; the noise score is ``sum(speech_noise_curve(...))``.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.LazyLinear(2))
        >>> x, y = torch.randn(4, 16000) * 0.1, torch.zeros(4, dtype=torch.long)
        >>> curve = speech_noise_curve(net, x, y, levels=(0.0, 0.5))
        >>> len(curve), all(0 <= c <= 4 for c in curve)
        (2, True)
    """
    if len(waves) != len(labels):
        raise ValueError(f"{len(waves)} clips but {len(labels)} labels")
    curve: list[int] = []
    with evaluating(model), torch.inference_mode():
        for i, level in enumerate(levels):
            noisy = blend_noise(waves, level, torch.Generator().manual_seed(seed * 1000 + i))
            correct = 0
            for j in range(0, len(labels), batch_size):
                logits = model(features(noisy[j:j + batch_size]))  # (B, classes)
                correct += int((logits.argmax(1) == labels[j:j + batch_size]).sum())
            curve.append(correct)
    return curve


__all__ = ["CHUNK", "MAX_VALUE", "blend_noise", "numenta_test_clips", "speech_noise_curve"]
