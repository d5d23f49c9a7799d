"""A tiny folder in the Google Speech Commands layout, written with the stdlib wave module.

Each word is a tone of its own pitch (plus a little noise), so that a small model can tell the
words apart in a few epochs. Speakers s0..s3 are training, s4 validation, s5 test.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

WORDS = {"yes": 300.0, "no": 700.0, "up": 1500.0, "cat": 3000.0}  # 'cat' becomes 'unknown'
SPEAKERS = [f"s{i}" for i in range(6)]
SAMPLES = 8000  # half-second clips: the loader pads them to 1 s


def write_wav(path: Path, samples: np.ndarray) -> None:
    """16 kHz 16-bit mono."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(np.asarray(samples, dtype="<i2").tobytes())


def write_tiny_gsc(root: Path, reps: int = 2) -> Path:
    """Write ``reps`` clips per word and speaker, the split lists and a noise file; ``root``."""
    rng = np.random.default_rng(0)
    t = np.arange(SAMPLES) / 16000
    val, test = [], []
    for word, hz in WORDS.items():
        for s, speaker in enumerate(SPEAKERS):
            for r in range(reps):
                rel = f"{word}/{speaker}_nohash_{r}.wav"
                tone = np.sin(2 * np.pi * hz * (1 + 0.02 * s) * t) * rng.uniform(3000, 9000)
                write_wav(root / rel, tone + rng.normal(0, 300, SAMPLES))
                (val if speaker == "s4" else test if speaker == "s5" else []).append(rel)
    (root / "validation_list.txt").write_text("\n".join(val) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    write_wav(root / "_background_noise_" / "white.wav", rng.normal(0, 800, 40000))
    return root
