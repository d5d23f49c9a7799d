"""`actsparse profile` with speech data: a model of another kind is refused in one line; a
keyword run's report and PNGs show spectrograms with its active units; silero-vad says why not."""

from __future__ import annotations

from pathlib import Path

import pytest
from _gsc import write_tiny_gsc

from actsparse import zoo
from actsparse.cli import main


def test_an_image_model_on_speech_data_is_refused(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["profile", "--model", "mnist-cnn", "--data", "speech-commands:/nowhere",
                   "--out", str(tmp_path / "out"), "--no-progress"])
    assert status == 2
    err = capsys.readouterr().err
    assert "is speech and model 'mnist-cnn' takes image data" in err and "silero-vad" in err
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def gsc(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"speech-commands:{write_tiny_gsc(tmp_path_factory.mktemp('gsc'), reps=1)}"


def test_a_keyword_run_gets_spectrograms_with_its_active_units(
        gsc: str, tmp_path: Path, one_thread: None) -> None:
    run, out = tmp_path / "run", tmp_path / "out"
    assert main(["train", "--model", "ds-cnn", "--data", gsc, "--sparsity", "kwta:0.1",
                 "--epochs", "1", "--batch-size", "16", "--out", str(run), "--no-progress"]) == 0
    assert main(["profile", "--model", str(run), "--data", gsc, "--out", str(out),
                 "--no-progress"]) == 0
    page = (out / "report.html").read_text()
    assert "Active units over example spectrograms" in page
    clips = zoo.load_speech(gsc, "test")
    words = [clips.classes[int(c)] for c in clips.labels]
    first = sorted({w: i for i, w in reversed(list(enumerate(words)))}.values())[:4]
    expected = [f"clip-{k:02d}-{words[i]}.png" for k, i in enumerate(first)]
    assert sorted(p.name for p in (out / "spectrograms").iterdir()) == expected
    assert all(p.stat().st_size > 1000 for p in (out / "spectrograms").iterdir())


def test_silero_vad_says_why_it_has_no_spectrograms(gsc: str, tmp_path: Path) -> None:
    pytest.importorskip("silero_vad")
    pytest.importorskip("onnxruntime")
    out = tmp_path / "vad"
    assert main(["profile", "--model", "silero-vad", "--data", gsc, "--limit", "2",
                 "--out", str(out), "--no-progress"]) == 0
    page = (out / "report.html").read_text()
    assert "Not drawn for silero-vad: it takes the raw waveform" in page
    assert not (out / "spectrograms").exists()
