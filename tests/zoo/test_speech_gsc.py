"""The real Google Speech Commands loader, on a tiny fake GSC tree written here."""

import wave
from collections import Counter

import numpy as np
import pytest

from actsparse import zoo
from actsparse.zoo.errors import DataFormatError
from actsparse.zoo.speech_commands import CLASSES


def _wav(path, samples, rate=16000):
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(np.asarray(samples, dtype="<i2").tobytes())


@pytest.fixture
def gsc(tmp_path):
    rng = np.random.default_rng(0)
    files = []
    for word in ("yes", "no", "go", "bed", "marvin"):
        for speaker in ("aa11", "bb22", "cc33"):
            rel = f"{word}/{speaker}_nohash_0.wav"
            _wav(tmp_path / rel, rng.integers(-3000, 3000, 12000 if word == "go" else 16000))
            files.append(rel)
    (tmp_path / "validation_list.txt").write_text(
        "\n".join(f for f in files if f.split("/")[1].startswith("bb22")) + "\n")
    (tmp_path / "testing_list.txt").write_text(
        "\n".join(f for f in files if f.split("/")[1].startswith("cc33")) + "\n")
    _wav(tmp_path / "_background_noise_" / "white.wav", rng.integers(-500, 500, 40000))
    return tmp_path


def test_splits_labels_and_speakers(gsc):
    seen = {}
    for split in ("train", "val", "test"):
        data = zoo.load_speech(f"speech-commands:{gsc}", split)
        assert data.classes == CLASSES and data.waves.shape[1] == 16000
        labels = Counter(CLASSES[y] for y in data.labels.tolist())
        assert labels == {"yes": 1, "no": 1, "go": 1, "unknown": 2, "silence": 1}
        speakers = {v for v in data.voices if not v.startswith("noise:")}
        seen[split] = speakers
        assert set(data.engines) == {"recorded"}
    assert seen == {"train": {"aa11"}, "val": {"bb22"}, "test": {"cc33"}}


def test_short_clip_is_padded_and_values_kept(gsc):
    data = zoo.load_speech(f"speech-commands:{gsc}", "train")
    go = data.waves[data.labels == CLASSES.index("go")][0]
    assert float(go[12000:].abs().max()) == 0.0 and float(go[:12000].abs().max()) > 0
    with wave.open(str(gsc / "yes" / "aa11_nohash_0.wav")) as handle:
        raw = np.frombuffer(handle.readframes(16000), dtype="<i2") / 32768.0
    yes = data.waves[data.labels == 0][0].numpy()
    np.testing.assert_allclose(yes, raw, atol=1e-7)


def test_silence_is_cut_from_background_noise(gsc):
    data = zoo.load_speech(f"speech-commands:{gsc}", "test")
    silence = data.waves[data.labels == CLASSES.index("silence")]
    assert silence.shape == (1, 16000) and float(silence.abs().max()) <= 500 / 32768
    assert [v for v in data.voices if v.startswith("noise:")] == ["noise:white"]


def test_bad_folders(gsc, tmp_path_factory):
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(DataFormatError, match="validation_list.txt"):
        zoo.load_speech(f"speech-commands:{empty}")
    _wav(gsc / "up" / "dd44_nohash_0.wav", np.zeros(8000), rate=8000)
    with pytest.raises(DataFormatError, match="expected 16 kHz"):
        zoo.load_speech(f"speech-commands:{gsc}")
    with pytest.raises(ValueError, match="no split"):
        zoo.load_speech(f"speech-commands:{gsc}", "heldout-engine")
