"""Labelled one-second audio clips: the shape a speech data set comes in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import Tensor


@dataclass
class SpeechData:
    """Audio clips with labels, and the voice and engine that said each one.

    Attributes:
        waves: float32 ``(N, T)`` in ``[-1, 1]`` (16 kHz; ``T`` is 16,000 for 1 s clips).
        labels: int64 ``(N,)`` indices into ``classes``.
        name: where the data came from.
        classes: the label names.
        voices: per clip, who said it (a synthetic voice id, or a GSC speaker id).
        engines: per clip, the speech engine (``'recorded'`` for real recordings).
        split: the split the clips belong to.
        sample_rate: samples per second.

    Example:
        >>> import torch
        >>> d = SpeechData(torch.zeros(3, 16000), torch.tensor([0, 1, 1]), "toy", ["a", "b"],
        ...                ["v1", "v2", "v2"], ["e", "e", "e"], "train")
        >>> len(d), d.kind, d[1:].voices, d.limit(1).labels
        (3, 'speech', ['v2', 'v2'], tensor([0]))
    """

    waves: Tensor
    labels: Tensor
    name: str = ""
    classes: list[str] = field(default_factory=list)
    voices: list[str] = field(default_factory=list)
    engines: list[str] = field(default_factory=list)
    split: str = ""
    sample_rate: int = 16000

    kind: ClassVar[str] = "speech"

    def __post_init__(self) -> None:
        n = self.waves.shape[0] if self.waves.ndim == 2 else -1
        if n < 0:
            raise ValueError(f"{self.name}: waves must be (N, T), got {tuple(self.waves.shape)}")
        if self.labels.shape != (n,) or len(self.voices) != n or len(self.engines) != n:
            raise ValueError(f"{self.name}: {n} clips but {tuple(self.labels.shape)} labels, "
                             f"{len(self.voices)} voices, {len(self.engines)} engines")

    def __len__(self) -> int:
        return int(self.waves.shape[0])

    def __getitem__(self, index: slice) -> SpeechData:
        return SpeechData(self.waves[index], self.labels[index], self.name, self.classes,
                          self.voices[index], self.engines[index], self.split, self.sample_rate)

    def limit(self, n: int | None) -> SpeechData:
        """The first ``n`` clips (all when ``n`` is None).

        Example:
            >>> import torch
            >>> d = SpeechData(torch.zeros(4, 8), torch.zeros(4, dtype=torch.long), "t", ["x"],
            ...                ["v"] * 4, ["e"] * 4)
            >>> len(d.limit(2))
            2
        """
        return self if n is None else self[:n]

    def select(self, index: Tensor) -> SpeechData:
        """The clips at the given indices (a long or bool tensor).

        Example:
            >>> import torch
            >>> d = SpeechData(torch.zeros(3, 8), torch.tensor([0, 1, 0]), "t", ["x", "y"],
            ...                ["a", "b", "c"], ["e"] * 3)
            >>> d.select(d.labels == 0).voices
            ['a', 'c']
        """
        idx = torch.as_tensor(index)
        if idx.dtype == torch.bool:
            idx = torch.nonzero(idx).flatten()
        rows = idx.tolist()
        return SpeechData(self.waves[idx], self.labels[idx], self.name, self.classes,
                          [self.voices[i] for i in rows], [self.engines[i] for i in rows],
                          self.split, self.sample_rate)
