"""What the keyword-spotting models train on: log-mel features of the speech splits.

A clip becomes its log-mel spectrogram (:func:`~actsparse.zoo.speech_features.log_mel`: 40
bands x 98 frames for 1 s at 16 kHz), standardised per clip (zero mean, unit standard
deviation), so that the input does not depend on the recording level and needs no statistics
of the training set. The features of a split are computed once per process
(:func:`split_features` keeps them in memory, keyed by the data, split, clip limit and feature
settings), so a process that trains many runs spends its time training. Speech models take
only speech data and image models only images: :func:`check_model_fits_data` says so in one
line.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from actsparse import zoo
from actsparse.train.models import SPEECH_ARCHS
from actsparse.zoo.datasets import SPEECH_NAME
from actsparse.zoo.speech_features import log_mel

CHUNK = 256  # clips per STFT: bounds the complex spectrogram's memory
# the log-mel settings of every keyword-spotting input (part of the feature cache's key)
LOG_MEL: dict[str, float] = {"sample_rate": 16000, "n_mels": 40, "win_ms": 30.0, "hop_ms": 10.0,
                             "top_db": 80.0}


@dataclass
class SpeechFeatures:
    """One split as model inputs: features ``(N, 1, 40, 98)`` and labels ``(N,)``.

    ``images`` is named as in :class:`~actsparse.zoo.ImageData`, so the training loop feeds
    both alike.
    """

    images: Tensor
    labels: Tensor
    classes: list[str]

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def is_speech_data(name: str) -> bool:
    """Whether ``--data name`` is speech: ``speech-commands`` or ``speech-commands:PATH``.

    Example:
        >>> is_speech_data("speech-commands"), is_speech_data("speech-commands:/gsc")
        (True, True)
        >>> is_speech_data("mnist")
        False
    """
    return name == SPEECH_NAME or name.startswith(SPEECH_NAME + ":")


def check_model_fits_data(model: str, data: str) -> None:
    """Refuse a speech model on images and an image model on speech, in one line.

    Example:
        >>> check_model_fits_data("ds-cnn", "speech-commands")
        >>> check_model_fits_data("ds-cnn", "mnist")
        Traceback (most recent call last):
        ...
        ValueError: model 'ds-cnn' spots keywords in speech; 'mnist' is not speech: use --data
        speech-commands (or speech-commands:PATH for a Google Speech Commands folder)
    """
    speech_model, speech_data = model in SPEECH_ARCHS, is_speech_data(data)
    if speech_model and not speech_data:
        raise ValueError(f"model {model!r} spots keywords in speech; {data!r} is not speech: use "
                         f"--data {SPEECH_NAME} (or {SPEECH_NAME}:PATH for a Google Speech "
                         "Commands folder)")
    if speech_data and not speech_model:
        raise ValueError(f"model {model!r} takes images; {data!r} is speech: use --model "
                         f"{' or '.join(SPEECH_ARCHS)}")


def speech_features(waves: Tensor) -> Tensor:
    """Per-clip standardised log-mels ``(N, 1, 40, frames)`` of waves ``(N, T)``.

    Example:
        >>> x = speech_features(torch.randn(3, 16000))
        >>> tuple(x.shape), round(float(x[0].mean()), 4), round(float(x[0].std()), 2)
        ((3, 1, 40, 98), 0.0, 1.0)
    """
    mel = functools.partial(log_mel, sample_rate=int(LOG_MEL["sample_rate"]),
                            n_mels=int(LOG_MEL["n_mels"]), win_ms=LOG_MEL["win_ms"],
                            hop_ms=LOG_MEL["hop_ms"], top_db=LOG_MEL["top_db"])
    parts = [mel(waves[i:i + CHUNK]) for i in range(0, waves.shape[0], CHUNK)]
    db = torch.cat(parts) if parts else mel(torch.zeros(1, waves.shape[1]))[:0]
    mean = db.mean(dim=(1, 2), keepdim=True)
    std = db.std(dim=(1, 2), keepdim=True).clamp(min=1e-5)  # a silent clip stays finite
    return ((db - mean) / std)[:, None]  # (N, 1, n_mels, frames)


@dataclass(frozen=True)
class LogMelInput:
    """The input of a keyword-spotting run: waves ``(B, T)`` -> :func:`speech_features`, checked
    to have the ``(1, bands, frames)`` the network was trained on (``in_shape``).

    A run folder loaded as a model (:mod:`~actsparse.train.run_folder`) carries one as its
    ZooModel's ``features``, so its batches are the log-mels training fed it.

    Example:
        >>> LogMelInput((1, 40, 98))(torch.zeros(2, 16000)).shape
        torch.Size([2, 1, 40, 98])
        >>> LogMelInput((1, 40, 98))(torch.zeros(2, 8000))
        Traceback (most recent call last):
        ...
        ValueError: the model takes log-mels of 40 bands x 98 frames (1 s clips at 16 kHz);
        these clips give 40 x 48
    """

    in_shape: tuple[int, int, int]

    def __call__(self, waves: Tensor) -> Tensor:
        x = speech_features(waves)
        if tuple(x.shape[1:]) != tuple(self.in_shape):
            _, bands, frames = self.in_shape
            raise ValueError(f"the model takes log-mels of {bands} bands x {frames} frames "
                             f"(1 s clips at 16 kHz); these clips give {x.shape[2]} x "
                             f"{x.shape[3]}")
        return x


_FEATURES: dict[tuple[object, ...], SpeechFeatures] = {}  # see split_features


def split_features(data: str, split: str, limit: int | None = None) -> SpeechFeatures:
    """The features of one split of ``data`` (its first ``limit`` clips), computed once per
    process: later calls with the same data, split, limit and :data:`LOG_MEL` settings return
    the same object (its tensors are shared: do not change them in place).

    The key is the data's name, not the clips' bytes: a Speech Commands folder changed on disk
    while the process runs is read again only after :func:`clear_feature_cache`.

    Example:
        >>> split_features("speech-commands:/nonexistent", "train")
        Traceback (most recent call last):
        ...
        FileNotFoundError: Speech Commands folder /nonexistent does not exist
    """
    key = (data, split, limit, tuple(sorted(LOG_MEL.items())))
    if key not in _FEATURES:
        clips = zoo.load_speech(data, split, limit)
        _FEATURES[key] = SpeechFeatures(speech_features(clips.waves), clips.labels, clips.classes)
    return _FEATURES[key]


def clear_feature_cache() -> None:
    """Forget every split's features kept by :func:`split_features`.

    Example:
        >>> clear_feature_cache()
    """
    _FEATURES.clear()


def speech_splits(data: str, train_limit: int | None = None,
                  test_limit: int | None = None) -> dict[str, SpeechFeatures]:
    """The splits of ``data`` as features: 'train' (``train_limit`` clips), 'val', 'test' and,
    for the synthesised set, 'heldout-engine' (each ``test_limit`` clips), from
    :func:`split_features` (computed once per process).

    Example:
        >>> speech_splits("speech-commands:/nonexistent")
        Traceback (most recent call last):
        ...
        FileNotFoundError: Speech Commands folder /nonexistent does not exist
    """
    names = ["train", "val", "test"] + (["heldout-engine"] if data == SPEECH_NAME else [])
    return {split: split_features(data, split, train_limit if split == "train" else test_limit)
            for split in names}


__all__ = ["LOG_MEL", "LogMelInput", "SpeechFeatures", "check_model_fits_data",
           "clear_feature_cache", "is_speech_data", "speech_features", "speech_splits",
           "split_features"]
