"""The real Google Speech Commands (GSC) from a folder in its own layout.

The layout: ``WORD/SPEAKER_nohash_N.wav`` (1 s or shorter, 16 kHz, 16-bit mono),
``validation_list.txt`` and ``testing_list.txt`` (paths relative to the root; every other clip
is training), and ``_background_noise_/*.wav`` (long noise recordings). Words outside the ten
commands become 'unknown'; 'silence' clips are 1 s windows cut from the noise recordings.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import torch

from actsparse.zoo.errors import DataFormatError
from actsparse.zoo.speech_commands import CLASSES, COMMANDS
from actsparse.zoo.speech_data import SpeechData
from actsparse.zoo.speech_synth import CLIP_SAMPLES, SAMPLE_RATE, clip_rng
from actsparse.zoo.splits import check_split

GSC_SPLITS = ("train", "val", "test")
NOISE_FOLDER = "_background_noise_"


def read_wav(path: Path) -> np.ndarray:
    """A 16 kHz 16-bit mono wav file as float32 in [-1, 1].

    Example:
        >>> read_wav(Path("/nonexistent.wav"))
        Traceback (most recent call last):
        ...
        FileNotFoundError: ...
    """
    with wave.open(str(path), "rb") as handle:
        rate, width, channels = (handle.getframerate(), handle.getsampwidth(),
                                 handle.getnchannels())
        if (rate, width, channels) != (SAMPLE_RATE, 2, 1):
            raise DataFormatError(f"{path}: expected 16 kHz 16-bit mono, got {rate} Hz, "
                                  f"{8 * width}-bit, {channels} channel(s); convert it with "
                                  f"sox (sox IN -r 16000 -b 16 -c 1 OUT)")
        frames = handle.readframes(handle.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def fit_clip(x: np.ndarray, n: int = CLIP_SAMPLES) -> np.ndarray:
    """Zero-pad (at the end) or cut a clip to ``n`` samples.

    Example:
        >>> fit_clip(np.ones(3), 5).tolist(), fit_clip(np.ones(7), 5).shape
        ([1.0, 1.0, 1.0, 0.0, 0.0], (5,))
    """
    out = np.zeros(n, dtype=np.float32)
    out[:min(n, x.size)] = x[:n]
    return out


def _listed(root: Path, name: str) -> set[str]:
    path = root / name
    if not path.is_file():
        raise DataFormatError(f"{root}: no {name}; a Speech Commands folder has "
                              "validation_list.txt and testing_list.txt beside its word folders")
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def _silence(root: Path, split: str, count: int) -> list[tuple[np.ndarray, str]]:
    """``count`` 1 s windows from the noise recordings, at offsets seeded by the split."""
    files = sorted((root / NOISE_FOLDER).glob("*.wav")) if (root / NOISE_FOLDER).is_dir() else []
    noises = [(f.stem, read_wav(f)) for f in files]
    noises = [(stem, x) for stem, x in noises if x.size >= CLIP_SAMPLES]
    if not noises or count == 0:
        return []
    rng = clip_rng("gsc-silence", split)
    out = []
    for i in range(count):
        stem, x = noises[i % len(noises)]
        start = int(rng.integers(0, x.size - CLIP_SAMPLES + 1))
        out.append((x[start:start + CLIP_SAMPLES] * rng.uniform(0.1, 1.0), f"noise:{stem}"))
    return out


def load_gsc(root: str | Path, split: str = "train", limit: int | None = None) -> SpeechData:
    """One split of a Speech Commands folder, with the 12 classes of :data:`CLASSES`.

    Speakers are the part of the file name before ``_nohash_``. The split gets as many silence
    clips as its average command word has clips (none without ``_background_noise_``).

    Example:
        >>> load_gsc("/nonexistent")
        Traceback (most recent call last):
        ...
        FileNotFoundError: Speech Commands folder /nonexistent does not exist
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"Speech Commands folder {root} does not exist")
    check_split(f"speech-commands:{root}", split, GSC_SPLITS)
    val, test = _listed(root, "validation_list.txt"), _listed(root, "testing_list.txt")
    waves, labels, voices = [], [], []
    for path in sorted(root.glob("*/*.wav")):
        word = path.parent.name
        if word == NOISE_FOLDER:
            continue
        rel = f"{word}/{path.name}"
        where = "test" if rel in test else "val" if rel in val else "train"
        if where != split:
            continue
        waves.append(fit_clip(read_wav(path)))
        labels.append(COMMANDS.index(word) if word in COMMANDS else len(COMMANDS))
        voices.append(path.stem.split("_nohash_")[0])
    if not waves:
        raise DataFormatError(f"{root}: no WORD/*.wav clips in split {split!r}")
    per_word = sum(1 for y in labels if y < len(COMMANDS)) // len(COMMANDS)
    for clip, voice in _silence(root, split, max(per_word, 1)):
        waves.append(clip)
        labels.append(len(COMMANDS) + 1)
        voices.append(voice)
    order = np.random.default_rng(0).permutation(len(waves))  # mix words and speakers
    data = SpeechData(torch.from_numpy(np.stack(waves)[order]),
                      torch.tensor(labels, dtype=torch.long)[order], f"speech-commands:{root}",
                      list(CLASSES), [voices[i] for i in order], ["recorded"] * len(waves),
                      split)
    return data.limit(limit)
