"""Keyword-spotting features in torch: log-mel spectrograms and MFCCs.

The conventions follow librosa's defaults, so the numbers can be compared with it: a periodic
Hann window, power spectrum, Slaney-style mel filters with Slaney area normalisation,
``10 * log10`` with a floor of 1e-10 and a per-clip ``top_db`` range, and an orthonormal
DCT-II for MFCCs. Frames are not centred (no padding), so 1 s at 16 kHz with a 30 ms window and
10 ms hop gives 98 frames.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def hz_to_mel(hz: Tensor) -> Tensor:
    """Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above.

    Example:
        >>> import torch
        >>> hz_to_mel(torch.tensor([0.0, 1000.0, 6400.0])).tolist()
        [0.0, 15.0, 42.0]
    """
    linear = hz / (200.0 / 3)
    log = 15.0 + torch.log(torch.clamp(hz, min=1e-10) / 1000.0) / (math.log(6.4) / 27.0)
    return torch.where(hz >= 1000.0, log, linear)


def mel_to_hz(mel: Tensor) -> Tensor:
    """The inverse of :func:`hz_to_mel`.

    Example:
        >>> import torch
        >>> [round(x) for x in mel_to_hz(torch.tensor([0.0, 15.0, 42.0])).tolist()]
        [0, 1000, 6400]
    """
    linear = mel * (200.0 / 3)
    log = 1000.0 * torch.exp((math.log(6.4) / 27.0) * (mel - 15.0))
    return torch.where(mel >= 15.0, log, linear)


def mel_filters(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                fmax: float | None = None) -> Tensor:
    """Triangular mel filters ``(n_mels, n_fft // 2 + 1)``, each scaled to unit area (Slaney).

    Example:
        >>> f = mel_filters(16000, 480, 40)
        >>> tuple(f.shape), bool((f >= 0).all()), bool((f.sum(1) > 0).all())
        ((40, 241), True, True)
    """
    fmax = sample_rate / 2 if fmax is None else fmax
    if not 0 <= fmin < fmax <= sample_rate / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= sample_rate / 2, got fmin={fmin}, "
                         f"fmax={fmax}, sample_rate={sample_rate}")
    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = mel_to_hz(torch.linspace(float(hz_to_mel(torch.tensor(fmin, dtype=torch.float64))),
                                     float(hz_to_mel(torch.tensor(fmax, dtype=torch.float64))),
                                     n_mels + 2, dtype=torch.float64))
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None] - low) / (centre - low)
    falling = (high - freqs[None]) / (high - centre)
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    return (weights * (2.0 / (high - low))).float()


def _frames(sample_rate: int, win_ms: float, hop_ms: float) -> tuple[int, int]:
    win, hop = round(sample_rate * win_ms / 1000), round(sample_rate * hop_ms / 1000)
    if win < 2 or hop < 1:
        raise ValueError(f"window {win_ms} ms and hop {hop_ms} ms are too short at "
                         f"{sample_rate} Hz")
    return win, hop


def mel_power(waves: Tensor, sample_rate: int = 16000, n_mels: int = 40, win_ms: float = 30.0,
              hop_ms: float = 10.0) -> Tensor:
    """Mel power spectrogram ``(N, n_mels, frames)`` of waves ``(N, T)`` (or one ``(T,)``).

    Example:
        >>> import torch
        >>> tuple(mel_power(torch.zeros(2, 16000)).shape)
        (2, 40, 98)
    """
    if waves.ndim == 1:
        waves = waves[None]
    if waves.ndim != 2:
        raise ValueError(f"waves must be (N, T) or (T,), got shape {tuple(waves.shape)}")
    win, hop = _frames(sample_rate, win_ms, hop_ms)
    if waves.shape[1] < win:
        raise ValueError(f"clips of {waves.shape[1]} samples are shorter than one window ({win})")
    spec = torch.stft(waves.float(), n_fft=win, hop_length=hop, win_length=win,
                      window=torch.hann_window(win, periodic=True), center=False,
                      return_complex=True)
    return mel_filters(sample_rate, win, n_mels) @ spec.abs().pow(2)


def power_to_db(power: Tensor, top_db: float | None = 80.0) -> Tensor:
    """``10 * log10(max(power, 1e-10))``, floored per clip at ``top_db`` below its maximum.

    Example:
        >>> import torch
        >>> power_to_db(torch.tensor([[1.0, 1e-3, 0.0]]), top_db=50).tolist()
        [[0.0, -30.0, -50.0]]
    """
    db = 10.0 * torch.log10(torch.clamp(power, min=1e-10))
    if top_db is not None:
        if top_db < 0:
            raise ValueError(f"top_db must be >= 0 or None, got {top_db}")
        peak = db.flatten(1).max(dim=1).values.view(-1, *([1] * (db.ndim - 1)))
        db = torch.maximum(db, peak - top_db)
    return db


def log_mel(waves: Tensor, sample_rate: int = 16000, n_mels: int = 40, win_ms: float = 30.0,
            hop_ms: float = 10.0, top_db: float | None = 80.0) -> Tensor:
    """Log-mel spectrogram in dB, ``(N, n_mels, frames)``: (40, 98) per 1 s 16 kHz clip.

    Example:
        >>> import torch
        >>> x = log_mel(torch.sin(torch.arange(16000) * 0.3)[None])
        >>> tuple(x.shape), bool(torch.isfinite(x).all())
        ((1, 40, 98), True)
    """
    return power_to_db(mel_power(waves, sample_rate, n_mels, win_ms, hop_ms), top_db)


def dct_matrix(n_out: int, n_in: int) -> Tensor:
    """The first ``n_out`` rows of the orthonormal DCT-II on ``n_in`` points.

    Example:
        >>> import torch
        >>> d = dct_matrix(8, 8)
        >>> bool(torch.allclose(d @ d.T, torch.eye(8), atol=1e-6))
        True
    """
    if not 1 <= n_out <= n_in:
        raise ValueError(f"need 1 <= n_mfcc <= n_mels, got {n_out} and {n_in}")
    n = torch.arange(n_in, dtype=torch.float64)
    k = torch.arange(n_out, dtype=torch.float64)[:, None]
    basis = torch.cos(math.pi / n_in * (n + 0.5) * k) * math.sqrt(2.0 / n_in)
    basis[0] /= math.sqrt(2.0)
    return basis.float()


def mfcc(waves: Tensor, n_mfcc: int = 40, sample_rate: int = 16000, n_mels: int = 40,
         win_ms: float = 30.0, hop_ms: float = 10.0, top_db: float | None = 80.0) -> Tensor:
    """MFCCs ``(N, n_mfcc, frames)``: the orthonormal DCT of :func:`log_mel` over mel bands.

    Example:
        >>> import torch
        >>> tuple(mfcc(torch.randn(3, 16000), n_mfcc=13).shape)
        (3, 13, 98)
    """
    db = log_mel(waves, sample_rate, n_mels, win_ms, hop_ms, top_db)
    return dct_matrix(n_mfcc, n_mels) @ db
