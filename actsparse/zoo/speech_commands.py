"""The ``speech-commands`` data set: synthesised keyword clips, split by voice, cached on disk.

Google Speech Commands (GSC) cannot be downloaded on these machines, so the zoo's default is
synthesised speech: GSC's ten command words, an 'unknown' class of other GSC words, and
'silence' (background noise), said by every English voice of espeak-ng, flite and festival
(see :mod:`actsparse.zoo.speech_synth`). It is not recorded speech. The real GSC is read by
:mod:`actsparse.zoo.speech_gsc` (``load_speech("speech-commands:/path/to/gsc")``).

Splits are by voice, so no test voice is heard in training: espeak-ng's voices are spread over
train/val/test, festival's kal is in train and slt in test, and flite, a whole engine, is the
'heldout-engine' split.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from actsparse._native import cache_dir
from actsparse.zoo.speech_data import SpeechData
from actsparse.zoo.speech_synth import (
    CLIP_SAMPLES,
    ESPEAK_ACCENTS,
    ESPEAK_VARIANTS,
    Voice,
    all_voices,
    require_programs,
    synth_clip,
)
from actsparse.zoo.splits import check_split

COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN_WORDS = ("bed", "bird", "cat", "dog", "eight", "five", "four", "happy", "house", "marvin",
                 "nine", "one", "seven", "sheila", "six", "three", "tree", "two", "wow", "zero")
CLASSES = [*COMMANDS, "unknown", "silence"]
SPLITS = ("train", "val", "test", "heldout-engine")
HELDOUT_ENGINE = "flite"
CACHE_VERSION = 1  # bump when the clips change (voices, words, augmentation); engines are Debian 12


def voice_split(voice: Voice) -> str:
    """The split a voice belongs to (fixed, so test voices never appear in training).

    Example:
        >>> voice_split(Voice("flite", "slt")), voice_split(Voice("festival", "kal"))
        ('heldout-engine', 'train')
        >>> from collections import Counter
        >>> Counter(voice_split(v) for v in all_voices() if v.engine == "espeak-ng")
        Counter({'train': 57, 'val': 20, 'test': 19})
    """
    if voice.engine == HELDOUT_ENGINE:
        return "heldout-engine"
    if voice.engine == "festival":
        return "train" if voice.name == "kal" else "test"
    accent, variant = voice.name.split("+")
    k = (ESPEAK_ACCENTS.index(accent) + ESPEAK_VARIANTS.index(variant)) % 5
    return {0: "test", 1: "val"}.get(k, "train")


def voice_words(voice_index: int, reps: int) -> list[tuple[int, str, int]]:
    """The ``(label, word, rep)`` clips one voice says: ``reps`` per class.

    Unknown clips take different unknown words, rotating with the voice; silence is ``''``.

    Example:
        >>> voice_words(0, 1)[9:]
        [(9, 'go', 0), (10, 'bed', 0), (11, '', 0)]
        >>> [w for _, w, _ in voice_words(1, 2)[20:22]]
        ['cat', 'dog']
    """
    clips = [(label, word, r) for label, word in enumerate(COMMANDS) for r in range(reps)]
    clips += [(len(COMMANDS), UNKNOWN_WORDS[(voice_index * reps + r) % len(UNKNOWN_WORDS)], r)
              for r in range(reps)]
    clips += [(len(COMMANDS) + 1, "", r) for r in range(reps)]
    return clips


def _voice_clips(args: tuple[Voice, int, int, int]) -> np.ndarray:
    """All clips of one voice, int16 ``(12 * reps, 16000)`` (run in a worker process)."""
    voice, voice_index, reps, seed = args
    with tempfile.TemporaryDirectory(prefix="actsparse-speech-") as tmp:
        return np.stack([synth_clip(voice, word, seed, r, Path(tmp))
                         for _, word, r in voice_words(voice_index, reps)])


def synthesise(voices: list[Voice] | None = None, reps: int = 3, seed: int = 0,
               workers: int | None = None) -> dict[str, np.ndarray]:
    """Generate the clips of ``voices`` (default: all), ``reps`` per class per voice.

    Returns arrays ``waves`` (int16 ``(N, 16000)``), ``labels``, ``voice`` (index into
    ``voice_ids``), and ``voice_ids``. Voices run in a process pool of ``workers`` (default:
    the CPU count). The same arguments give the same bytes.

    Example:
        >>> synthesise([Voice("espeak-ng", "en-us+m1")], reps=0)
        Traceback (most recent call last):
        ...
        ValueError: reps must be >= 1 (clips per class per voice), got 0

    (Real generation needs the Debian engines; tests/zoo/test_speech_commands.py runs it.)
    """
    if reps < 1:
        raise ValueError(f"reps must be >= 1 (clips per class per voice), got {reps}")
    everyone = all_voices()
    voices = everyone if voices is None else voices
    require_programs({v.engine for v in voices})
    jobs = [(v, everyone.index(v) if v in everyone else i, reps, seed)
            for i, v in enumerate(voices)]
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        parts = [_voice_clips(job) for job in jobs]
    else:
        # festival is ~10x slower per clip: start its voices first so no core idles at the end
        order = sorted(range(len(jobs)), key=lambda i: jobs[i][0].engine != "festival")
        with ProcessPoolExecutor(max_workers=workers) as pool:
            done = dict(zip(order, pool.map(_voice_clips, [jobs[i] for i in order]), strict=True))
        parts = [done[i] for i in range(len(jobs))]
    per_voice = len(voice_words(0, reps))
    labels = [label for i, _ in enumerate(jobs) for label, _, _ in voice_words(jobs[i][1], reps)]
    return {"waves": np.concatenate(parts) if parts else np.zeros((0, CLIP_SAMPLES), np.int16),
            "labels": np.asarray(labels, dtype=np.int64),
            "voice": np.repeat(np.arange(len(voices)), per_voice),
            "voice_ids": np.asarray([v.id for v in voices])}


def cached_synthesis(reps: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    """The whole synthesised set, generated on first use and then read from the cache.

    Example:
        >>> cached_synthesis(reps=0)
        Traceback (most recent call last):
        ...
        ValueError: reps must be >= 1 (clips per class per voice), got 0
    """
    if reps < 1:
        raise ValueError(f"reps must be >= 1 (clips per class per voice), got {reps}")
    path = cache_dir() / f"speech-commands-synth-v{CACHE_VERSION}-reps{reps}-seed{seed}.npz"
    if not path.is_file():
        arrays = synthesise(reps=reps, seed=seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, waves=arrays["waves"], labels=arrays["labels"],
                         voice=arrays["voice"], voice_ids=arrays["voice_ids"])
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    with np.load(path) as content:
        return {key: content[key] for key in content.files}


def as_speech_data(arrays: dict[str, np.ndarray], split: str, name: str) -> SpeechData:
    """The clips of one split of :func:`synthesise`'s output, as :class:`SpeechData`.

    Example:
        >>> arrays = {"waves": np.zeros((2, 4), np.int16), "labels": np.array([0, 11]),
        ...           "voice": np.array([0, 1]),
        ...           "voice_ids": np.array(["flite:slt", "espeak-ng:en-us+m2"])}
        >>> d = as_speech_data(arrays, "heldout-engine", "speech-commands")
        >>> d.voices, d.engines, d.labels.tolist()
        (['flite:slt'], ['flite'], [0])
    """
    check_split("speech-commands", split, SPLITS)
    ids = [str(v) for v in arrays["voice_ids"]]
    splits = [voice_split(Voice(*i.split(":", 1))) for i in ids]
    keep = np.flatnonzero([splits[v] == split for v in arrays["voice"]])
    keep = keep[np.random.default_rng(0).permutation(keep.size)]  # mix classes and voices
    voices = [ids[v] for v in arrays["voice"][keep]]
    waves = torch.from_numpy(arrays["waves"][keep].astype(np.float32) / 32768.0)
    return SpeechData(waves, torch.from_numpy(arrays["labels"][keep].astype(np.int64)), name,
                      list(CLASSES), voices, [v.split(":", 1)[0] for v in voices], split)


def speech_commands(split: str = "train", limit: int | None = None) -> SpeechData:
    """The synthesised speech-commands set: 12 classes, 1 s 16 kHz clips, split by voice.

    ``split`` is 'train', 'val', 'test' (voices unseen in training) or 'heldout-engine'
    (flite: an engine unseen in training). The first call generates every clip (about a
    minute on 2 cores) and caches it under :func:`cache_dir`.

    Example:
        >>> speech_commands("dev")
        Traceback (most recent call last):
        ...
        ValueError: data set 'speech-commands' has no split 'dev'; choose one of: train, val,
        test, heldout-engine
    """
    check_split("speech-commands", split, SPLITS)
    return as_speech_data(cached_synthesis(), split, "speech-commands").limit(limit)
