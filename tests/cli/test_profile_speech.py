"""`actsparse profile` with speech data: a model of another kind is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from actsparse.cli import main


def test_an_image_model_on_speech_data_is_refused(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["profile", "--model", "mnist-cnn", "--data", "speech-commands:/nowhere",
                   "--out", str(tmp_path / "out"), "--no-progress"])
    assert status == 2
    err = capsys.readouterr().err
    assert "is speech and model 'mnist-cnn' takes image data" in err and "silero-vad" in err
    assert not (tmp_path / "out").exists()
