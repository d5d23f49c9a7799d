"""Synthesised clips: deterministic bytes, 16 kHz 1 s int16, augmentation that varies."""

import shutil

import numpy as np
import pytest

from actsparse.zoo.speech_synth import (
    CLIP_SAMPLES,
    Voice,
    all_voices,
    background_noise,
    clip_rng,
    place,
    synth_clip,
)

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="Debian packages espeak-ng and sox not installed (apt-get install espeak-ng sox)")
needs_flite = pytest.mark.skipif(
    shutil.which("flite") is None or shutil.which("sox") is None,
    reason="Debian packages flite and sox not installed (apt-get install flite sox)")
needs_festival = pytest.mark.skipif(
    shutil.which("text2wave") is None or shutil.which("sox") is None,
    reason="Debian packages festival, festvox-kallpc16k, festvox-us-slt-hts and sox not "
           "installed")


def test_voice_ids_unique():
    ids = [v.id for v in all_voices()]
    assert len(ids) == len(set(ids))
    assert {v.engine for v in all_voices()} == {"espeak-ng", "flite", "festival"}


@pytest.mark.parametrize("voice", [
    pytest.param(Voice("espeak-ng", "en-gb-scotland+f2"), marks=needs_espeak),
    pytest.param(Voice("flite", "awb"), marks=needs_flite),
    pytest.param(Voice("festival", "kal"), marks=needs_festival),
])
def test_same_key_same_bytes(voice, tmp_path):
    a = synth_clip(voice, "stop", seed=3, rep=1, workdir=tmp_path / "a")
    b = synth_clip(voice, "stop", seed=3, rep=1, workdir=tmp_path / "b")
    assert a.dtype == np.int16 and a.shape == (CLIP_SAMPLES,)
    assert a.tobytes() == b.tobytes()
    assert np.abs(a).max() > 1000  # speech, not an empty clip


@needs_espeak
def test_reps_and_seeds_differ(tmp_path):
    voice = Voice("espeak-ng", "en-us+m3")
    clips = [synth_clip(voice, "go", seed=s, rep=r, workdir=tmp_path) for s, r in
             [(0, 0), (0, 1), (1, 0)]]
    assert len({c.tobytes() for c in clips}) == 3


@needs_espeak
def test_words_differ(tmp_path):
    voice = Voice("espeak-ng", "en-us+m3")
    yes = synth_clip(voice, "yes", 0, 0, tmp_path, augment=False).astype(float)
    no = synth_clip(voice, "no", 0, 0, tmp_path, augment=False).astype(float)
    assert not np.allclose(yes, no)


def test_silence_is_noise_without_engine(tmp_path):
    clip = synth_clip(Voice("flite", "slt"), "", 0, 0, tmp_path)
    assert clip.shape == (CLIP_SAMPLES,) and clip.std() > 10
    assert not any(tmp_path.iterdir())  # no engine was run


def test_noise_and_place():
    noise = background_noise(clip_rng("x"))
    assert noise.shape == (CLIP_SAMPLES,) and abs(float(noise.mean())) < 1e-3
    out = place(np.ones(20000, dtype=np.float32), clip_rng(1))
    assert out.shape == (CLIP_SAMPLES,) and float(out.sum()) == CLIP_SAMPLES


def test_unknown_engine_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown speech engine"):
        synth_clip(Voice("say", "alex"), "go", 0, 0, tmp_path)
