"""Speech splits as model inputs, and the refusal of models on the other kind of data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _gsc import write_tiny_gsc

from actsparse.train.speech_inputs import check_model_fits_data, speech_features, speech_splits
from actsparse.zoo.speech_commands import CLASSES


@pytest.mark.parametrize(("model", "data", "message"), [
    ("ds-cnn", "mnist", "'ds-cnn' spots keywords in speech; 'mnist' is not speech"),
    ("gsc-cnn", "digits", "--data speech-commands"),
    ("cnn", "speech-commands", "'cnn' takes images; 'speech-commands' is speech"),
    ("mlp", "speech-commands:/gsc", "use --model ds-cnn or gsc-cnn"),
])
def test_a_model_on_the_other_kind_of_data_is_refused(model: str, data: str,
                                                      message: str) -> None:
    with pytest.raises(ValueError, match="^.*$") as err:
        check_model_fits_data(model, data)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("model", "data"), [("ds-cnn", "speech-commands:/x"), ("cnn", "mnist")])
def test_matching_pairs_pass(model: str, data: str) -> None:
    check_model_fits_data(model, data)


def test_features_are_standardised_log_mels_of_each_clip() -> None:
    waves = torch.randn(5, 16000) * torch.tensor([[0.01], [0.1], [0.5], [1.0], [0.0]])
    x = speech_features(waves)
    assert x.shape == (5, 1, 40, 98) and bool(torch.isfinite(x).all())
    torch.testing.assert_close(x.mean(dim=(1, 2, 3)), torch.zeros(5), atol=1e-4, rtol=0)
    torch.testing.assert_close(x[:4].std(dim=(1, 2, 3)), torch.ones(4), atol=1e-4, rtol=0)
    torch.testing.assert_close(x[0], speech_features(waves[:1] * 7.0)[0], atol=1e-3, rtol=0)


def test_splits_of_a_gsc_folder(tmp_path: Path) -> None:
    root = write_tiny_gsc(tmp_path)
    splits = speech_splits(f"speech-commands:{root}", train_limit=10)
    assert list(splits) == ["train", "val", "test"]  # no held-out engine in recorded data
    assert len(splits["train"]) == 10 and splits["train"].images.shape[1:] == (1, 40, 98)
    assert splits["val"].classes == CLASSES
    assert set(splits["test"].labels.tolist()) == {0, 1, 2, 10, 11}  # yes no up unknown silence
