"""One synthesised speech clip: a word said by a Debian text-to-speech voice, augmented.

The engines (espeak-ng, flite, festival's ``text2wave``) and ``sox`` are Debian packages run as
subprocesses. A clip is 1 s of 16 kHz mono int16. Augmentation (speed, pitch, time shift,
background noise, level) is drawn from a generator seeded by the clip's own key, so a clip's
bytes do not depend on which other clips are made, or in which process.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actsparse.zoo.errors import MissingAssetError

SAMPLE_RATE = 16000
CLIP_SAMPLES = SAMPLE_RATE

# espeak-ng's own English accents (the mbrola ones need extra voice data that Debian splits off).
ESPEAK_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
                  "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
FESTIVAL_VOICES = {"kal": "voice_kal_diphone", "slt": "voice_cmu_us_slt_arctic_hts"}
ENGINE_PROGRAMS = {"espeak-ng": "espeak-ng", "flite": "flite", "festival": "text2wave"}
APT_PACKAGES = {"espeak-ng": "espeak-ng", "flite": "flite",
                "festival": "festival festvox-kallpc16k festvox-us-slt-hts", "sox": "sox"}


@dataclass(frozen=True)
class Voice:
    """A speaking voice: an engine and the engine's name for the voice.

    Example:
        >>> Voice("espeak-ng", "en-us+f3").id
        'espeak-ng:en-us+f3'
    """

    engine: str
    name: str

    @property
    def id(self) -> str:
        """``engine:name``, unique over all voices."""
        return f"{self.engine}:{self.name}"


def all_voices() -> list[Voice]:
    """Every English voice of the three engines, in a fixed order (whether installed or not).

    Example:
        >>> voices = all_voices()
        >>> len(voices), voices[0].id, voices[-1].id
        (103, 'espeak-ng:en-us+m1', 'festival:slt')
    """
    voices = [Voice("espeak-ng", f"{a}+{v}") for a in ESPEAK_ACCENTS for v in ESPEAK_VARIANTS]
    voices += [Voice("flite", v) for v in FLITE_VOICES]
    voices += [Voice("festival", v) for v in FESTIVAL_VOICES]
    return voices


def missing_programs(engines: set[str] | None = None) -> list[str]:
    """The apt packages to install for the engines (and sox) that are not on the PATH.

    Example:
        >>> isinstance(missing_programs({"flite"}), list)
        True
    """
    engines = set(ENGINE_PROGRAMS) if engines is None else engines
    need = [(e, ENGINE_PROGRAMS[e]) for e in sorted(engines)] + [("sox", "sox")]
    return [APT_PACKAGES[e] for e, prog in need if shutil.which(prog) is None]


def require_programs(engines: set[str]) -> None:
    """Raise :class:`MissingAssetError` with the apt command when an engine or sox is missing.

    Example:
        >>> require_programs(set()) if not missing_programs(set()) else None
    """
    missing = missing_programs(engines)
    if missing:
        raise MissingAssetError("the speech engines for the synthesised speech-commands data",
                                "apt-get install " + " ".join(missing))


def speak(voice: Voice, text: str, out: Path) -> None:
    """Write ``text`` said by ``voice`` to the wav file ``out`` (the engine's own rate).

    Example:
        >>> speak(Voice("espeak-ng", "en-us"), "x", Path("/nonexistent/a.wav"))
        Traceback (most recent call last):
        ...
        RuntimeError: ...
    """
    if voice.engine == "espeak-ng":
        cmd, stdin = ["espeak-ng", "-v", voice.name, "-w", str(out), text], None
    elif voice.engine == "flite":
        cmd, stdin = ["flite", "-voice", voice.name, "-t", text, "-o", str(out)], None
    elif voice.engine == "festival":
        cmd = ["text2wave", "-eval", f"({FESTIVAL_VOICES[voice.name]})", "-o", str(out)]
        stdin = text
    else:
        raise ValueError(f"unknown speech engine {voice.engine!r}; use one of "
                         f"{', '.join(ENGINE_PROGRAMS)}")
    try:
        done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)
    except FileNotFoundError as err:
        raise RuntimeError(f"{cmd[0]} is not installed ({err})") from err
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")


def resample(wav: Path, speed: float = 1.0, pitch_cents: float = 0.0) -> np.ndarray:
    """A wav file as 16 kHz mono float32 in [-1, 1], with sox's speed and pitch effects.

    sox runs without dither (``-D``) and in repeatable mode (``-R``), so the output is
    deterministic.

    Example:
        >>> resample(Path("/nonexistent.wav"))
        Traceback (most recent call last):
        ...
        RuntimeError: ...
    """
    cmd = ["sox", "-D", "-R", str(wav), "-t", "raw", "-e", "signed", "-b", "16", "-c", "1", "-"]
    if pitch_cents:
        cmd += ["pitch", f"{pitch_cents:.1f}"]
    if speed != 1.0:
        cmd += ["speed", f"{speed:.4f}"]
    cmd += ["rate", "-h", str(SAMPLE_RATE)]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=60)
    except FileNotFoundError as err:
        raise RuntimeError(f"sox is not installed ({err})") from err
    if done.returncode != 0:
        raise RuntimeError(f"sox failed on {wav}: {done.stderr.decode(errors='replace').strip()}")
    return np.frombuffer(done.stdout, dtype="<i2").astype(np.float32) / 32768.0


def clip_rng(*key: object) -> np.random.Generator:
    """A generator seeded from a key of strings and numbers (stable across runs and processes).

    Example:
        >>> float(clip_rng("a", 1).random()) == float(clip_rng("a", 1).random())
        True
    """
    digest = hashlib.sha256(repr(key).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def background_noise(rng: np.random.Generator, n: int = CLIP_SAMPLES) -> np.ndarray:
    """Unit-RMS noise of a random colour (white, pink or brown), float32 of length ``n``.

    Example:
        >>> x = background_noise(clip_rng("n"), 1600)
        >>> x.shape, round(float(np.sqrt((x ** 2).mean())), 3)
        ((1600,), 1.0)
    """
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    freqs[0] = freqs[1]
    exponent = rng.choice([0.0, 0.5, 1.0])  # white, pink, brown
    noise = np.fft.irfft(spectrum / freqs ** exponent, n)
    noise -= noise.mean()
    return (noise / max(float(np.sqrt((noise ** 2).mean())), 1e-12)).astype(np.float32)


def place(speech: np.ndarray, rng: np.random.Generator, n: int = CLIP_SAMPLES) -> np.ndarray:
    """Trim silence around ``speech`` and place it at a random offset in ``n`` samples.

    Speech longer than ``n`` is cut to its middle ``n`` samples.

    Example:
        >>> out = place(np.r_[np.zeros(50), np.ones(10), np.zeros(50)], clip_rng(0), 100)
        >>> out.shape, float(out.sum())
        ((100,), 10.0)
    """
    loud = np.flatnonzero(np.abs(speech) > 0.02 * max(float(np.abs(speech).max()), 1e-9))
    if loud.size:
        speech = speech[loud[0]:loud[-1] + 1]
    if speech.size > n:
        start = (speech.size - n) // 2
        speech = speech[start:start + n]
    out = np.zeros(n, dtype=np.float32)
    offset = int(rng.integers(0, n - speech.size + 1))
    out[offset:offset + speech.size] = speech
    return out


def to_int16(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scale to a random peak level (-20 to -1 dBFS) and round to int16.

    Example:
        >>> y = to_int16(np.array([0.0, 0.5, -1.0]), clip_rng(1))
        >>> y.dtype.name, bool(abs(int(y[2])) > 3000)
        ('int16', True)
    """
    peak = max(float(np.abs(x).max()), 1e-9)
    level = 10 ** (rng.uniform(-20.0, -1.0) / 20)
    return np.clip(np.round(x / peak * level * 32767), -32768, 32767).astype(np.int16)


def synth_clip(voice: Voice, word: str, seed: int, rep: int, workdir: Path,
               augment: bool = True) -> np.ndarray:
    """One 1 s, 16 kHz int16 clip of ``word`` said by ``voice``; ``word=''`` gives silence.

    ``(voice, word, seed, rep)`` fixes the augmentation: speed 0.85-1.15, pitch +-300 cents,
    a random time shift, background noise at 5-40 dB SNR (on 80% of clips) and a random level.
    Silence clips are noise alone. ``workdir`` holds the engine's temporary wav file.

    Example:
        >>> import tempfile
        >>> clip = synth_clip(Voice("espeak-ng", "en-us"), "", 0, 0, Path(tempfile.mkdtemp()))
        >>> clip.shape, clip.dtype.name
        ((16000,), 'int16')
    """
    rng = clip_rng(voice.id, word, seed, rep)
    if not word:
        noise = background_noise(rng) * rng.uniform(0.05, 1.0)
        return to_int16(noise, rng)
    speed = rng.uniform(0.85, 1.15) if augment else 1.0
    pitch = rng.uniform(-300.0, 300.0) if augment else 0.0
    wav = workdir / f"{voice.engine}-{voice.name}-{word}.wav"
    if not wav.is_file():
        workdir.mkdir(parents=True, exist_ok=True)
        speak(voice, word, wav)
    speech = resample(wav, speed, pitch)
    clip = place(speech, rng) if augment else place(speech, clip_rng("centre"))
    if augment and rng.random() < 0.8:
        rms = float(np.sqrt((clip[clip != 0] ** 2).mean())) if clip.any() else 1.0
        snr_db = rng.uniform(5.0, 40.0)
        clip = clip + background_noise(rng) * rms * 10 ** (-snr_db / 20)
    return to_int16(clip, rng)
