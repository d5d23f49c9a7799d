"""The synthesised speech-commands set: voice splits, class balance, cache, data object."""

import shutil
from collections import Counter

import numpy as np
import pytest

from actsparse import zoo
from actsparse.zoo import speech_commands as sc
from actsparse.zoo.speech_synth import Voice, all_voices

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="Debian packages espeak-ng and sox not installed (apt-get install espeak-ng sox)")


def test_splits_are_voice_disjoint_and_cover_every_voice():
    by_split: dict[str, set[str]] = {}
    for v in all_voices():
        by_split.setdefault(sc.voice_split(v), set()).add(v.id)
    assert set(by_split) == set(sc.SPLITS)
    names = list(by_split.values())
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            assert not names[i] & names[j]
    assert sum(len(s) for s in names) == len(all_voices())


def test_heldout_engine_is_whole_and_only_there():
    engines = {s: {v.engine for v in all_voices() if sc.voice_split(v) == s} for s in sc.SPLITS}
    assert engines["heldout-engine"] == {sc.HELDOUT_ENGINE}
    assert all(sc.HELDOUT_ENGINE not in engines[s] for s in ("train", "val", "test"))


def test_every_accent_and_variant_in_training():
    train = [v.name.split("+") for v in all_voices()
             if v.engine == "espeak-ng" and sc.voice_split(v) == "train"]
    assert {a for a, _ in train} == set(sc.ESPEAK_ACCENTS)
    assert {b for _, b in train} == set(sc.ESPEAK_VARIANTS)


def test_voice_words_balanced():
    for i in range(5):
        counts = Counter(label for label, _, _ in sc.voice_words(i, 3))
        assert counts == {label: 3 for label in range(len(sc.CLASSES))}
    unknown = {w for i in range(len(all_voices())) for y, w, _ in sc.voice_words(i, 3)
               if y == len(sc.COMMANDS)}
    assert unknown == set(sc.UNKNOWN_WORDS)


@needs_espeak
def test_synthesise_small_set_and_split():
    voices = [Voice("espeak-ng", "en-us+m1"), Voice("espeak-ng", "en-gb+f3")]
    arrays = sc.synthesise(voices, reps=1, seed=0, workers=2)
    again = sc.synthesise(voices, reps=1, seed=0, workers=1)
    assert arrays["waves"].tobytes() == again["waves"].tobytes()  # pool or not, same bytes
    assert arrays["waves"].shape == (24, 16000)
    assert Counter(arrays["labels"].tolist()) == {y: 2 for y in range(12)}
    splits = {sc.voice_split(v) for v in voices}
    for split in splits:
        data = sc.as_speech_data(arrays, split, "t")
        assert isinstance(data, zoo.SpeechData) and data.classes == sc.CLASSES
        assert data.waves.dtype.is_floating_point and float(data.waves.abs().max()) <= 1.0
        assert {sc.voice_split(Voice(*v.split(":", 1))) for v in data.voices} == {split}
        assert set(data.engines) == {"espeak-ng"}


def test_cached_synthesis_reads_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTSPARSE_CACHE_DIR", str(tmp_path))
    fake = {"waves": np.arange(2 * 16000, dtype=np.int16).reshape(2, 16000),
            "labels": np.array([3, 11]), "voice": np.array([0, 1]),
            "voice_ids": np.array(["flite:kal", "espeak-ng:en-us+m2"])}
    path = tmp_path / f"speech-commands-synth-v{sc.CACHE_VERSION}-reps3-seed0.npz"
    np.savez(path, **fake)
    data = zoo.load_speech("speech-commands", "heldout-engine")
    assert data.labels.tolist() == [3] and data.voices == ["flite:kal"]
    assert data.waves.shape == (1, 16000)


def test_load_data_points_to_load_speech():
    with pytest.raises(ValueError, match="load_speech"):
        zoo.load_data("speech-commands")
    with pytest.raises(ValueError, match="no split 'dev'"):
        zoo.load_speech("speech-commands", "dev")
