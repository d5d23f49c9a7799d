"""Log-mel and MFCC features: KWS shapes, and the values of librosa on speech clips."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from actsparse.zoo.speech_features import dct_matrix, log_mel, mel_filters, mfcc, power_to_db


def _speech_clips() -> torch.Tensor:
    """Three synthesised speech clips (espeak-ng), or skip."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("Debian packages espeak-ng and sox not installed (apt-get install espeak-ng "
                    "sox)")
    import tempfile

    from actsparse.zoo.speech_synth import Voice, synth_clip
    with tempfile.TemporaryDirectory() as tmp:
        clips = [synth_clip(Voice("espeak-ng", v), w, 0, 0, Path(tmp))
                 for v, w in [("en-us+f3", "yes"), ("en-gb+m2", "left"), ("en-029+m5", "")]]
    return torch.from_numpy(np.stack(clips).astype(np.float32) / 32768.0)


def test_kws_shapes():
    x = torch.randn(4, 16000)
    assert log_mel(x).shape == (4, 40, 98)
    assert mfcc(x, n_mfcc=10).shape == (4, 10, 98)
    assert log_mel(x[0]).shape == (1, 40, 98)
    assert log_mel(x, n_mels=64, win_ms=25, hop_ms=10).shape == (4, 64, 98)


def test_tone_lands_in_its_band():
    t = torch.arange(16000) / 16000
    low = log_mel(torch.sin(2 * torch.pi * 300 * t))[0].mean(1)
    high = log_mel(torch.sin(2 * torch.pi * 5000 * t))[0].mean(1)
    assert int(low.argmax()) < int(high.argmax())


def test_filters_and_dct():
    f = mel_filters(16000, 480, 40)
    assert torch.all(f >= 0) and torch.all(f.sum(1) > 0)
    d = dct_matrix(40, 40)
    assert torch.allclose(d @ d.T, torch.eye(40), atol=1e-5)
    db = power_to_db(torch.tensor([[[1.0, 1e-12]], [[1e-4, 1e-4]]]), top_db=20)
    assert db.tolist() == [[[0.0, -20.0]], [[-40.0, -40.0]]]


def test_bad_input():
    with pytest.raises(ValueError, match="waves must be"):
        log_mel(torch.zeros(1, 2, 16000))
    with pytest.raises(ValueError, match="shorter than one window"):
        log_mel(torch.zeros(1, 100))
    with pytest.raises(ValueError, match="n_mfcc"):
        mfcc(torch.zeros(1, 16000), n_mfcc=41)


def test_matches_librosa_on_speech():
    # librosa is not a dependency (1.0 needs Python >= 3.12; 0.11 pulls in numba)
    librosa = pytest.importorskip("librosa", reason="librosa not installed (pip install librosa)")
    x = _speech_clips()
    ours_db, ours_mfcc = log_mel(x).numpy(), mfcc(x, n_mfcc=20).numpy()
    np.testing.assert_allclose(mel_filters(16000, 480, 40).numpy(),
                               librosa.filters.mel(sr=16000, n_fft=480, n_mels=40), atol=1e-6)
    for i, clip in enumerate(x.numpy()):
        power = librosa.feature.melspectrogram(y=clip, sr=16000, n_fft=480, hop_length=160,
                                               win_length=480, center=False, n_mels=40)
        ref = librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=80.0)
        assert ref.shape == (40, 98)
        np.testing.assert_allclose(ours_db[i], ref, atol=0.01)  # dB; float32 STFT vs NumPy
        np.testing.assert_allclose(ours_mfcc[i], librosa.feature.mfcc(S=ref, n_mfcc=20),
                                   atol=0.05)
