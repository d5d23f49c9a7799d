"""The per-process feature cache of the speech splits: identical to computing them afresh."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _gsc import write_tiny_gsc

from actsparse import zoo
from actsparse.train import speech_inputs
from actsparse.train.speech_inputs import (
    clear_feature_cache,
    speech_features,
    speech_splits,
    split_features,
)


def test_cached_features_equal_uncached_ones(tmp_path: Path) -> None:
    data = f"speech-commands:{tmp_path / 'gsc'}"
    write_tiny_gsc(tmp_path / "gsc")
    clear_feature_cache()
    first = speech_splits(data, train_limit=12)
    again = speech_splits(data, train_limit=12)
    for split in ("train", "val", "test"):
        clips = zoo.load_speech(data, split, 12 if split == "train" else None)
        fresh = speech_features(clips.waves)
        assert again[split] is first[split]  # served from the cache
        assert torch.equal(again[split].images, fresh)  # bit for bit
        assert torch.equal(again[split].labels, clips.labels)
        assert again[split].classes == clips.classes


def test_each_split_is_computed_once_per_key(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    data = f"speech-commands:{tmp_path / 'gsc'}"
    write_tiny_gsc(tmp_path / "gsc")
    clear_feature_cache()
    calls: list[int] = []
    real = speech_inputs.speech_features
    monkeypatch.setattr(speech_inputs, "speech_features",
                        lambda waves: calls.append(len(waves)) or real(waves))
    for _ in range(3):
        speech_splits(data, train_limit=8)
    assert len(calls) == 3  # train, val, test: once each
    other = split_features(data, "train", 10)  # another limit is another key
    assert len(calls) == 4 and len(other) == 10
    clear_feature_cache()
    split_features(data, "train", 10)
    assert len(calls) == 5
