"""SpeechData: per-clip metadata stays aligned through slicing and selection."""

import pytest
import torch

from actsparse.zoo.speech_data import SpeechData


def _data(n=4):
    return SpeechData(torch.arange(n * 8, dtype=torch.float32).view(n, 8), torch.arange(n) % 2,
                      "t", ["a", "b"], [f"v{i}" for i in range(n)], [f"e{i}" for i in range(n)])


def test_select_and_slice_keep_rows_aligned():
    d = _data()
    picked = d.select(d.labels == 1)
    assert picked.voices == ["v1", "v3"] and picked.engines == ["e1", "e3"]
    assert torch.equal(picked.waves[:, 0], torch.tensor([8.0, 24.0]))
    assert d[2:].voices == ["v2", "v3"] and d.select(torch.tensor([3, 0])).voices == ["v3", "v0"]


def test_mismatched_metadata_is_refused():
    with pytest.raises(ValueError, match="3 clips but"):
        SpeechData(torch.zeros(3, 8), torch.zeros(3, dtype=torch.long), "t", ["a"], ["v"] * 2,
                   ["e"] * 3)
    with pytest.raises(ValueError, match="waves must be"):
        SpeechData(torch.zeros(8), torch.zeros(1, dtype=torch.long), "t", ["a"], ["v"], ["e"])
