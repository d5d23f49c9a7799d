"""``actsparse train`` on speech: a ds-cnn run on a Speech Commands folder, and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _gsc import write_tiny_gsc

from actsparse.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def test_ds_cnn_on_a_speech_commands_folder(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    data = f"speech-commands:{write_tiny_gsc(tmp_path / 'gsc')}"
    out = tmp_path / "run"
    assert main(["train", "--model", "ds-cnn", "--data", data, "--sparsity", "kwta:0.1",
                 "--epochs", "2", "--patience", "3", "--batch-size", "16", "--out", str(out),
                 "--no-progress"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "ds-cnn" and metrics["data"] == data
    assert metrics["config"]["patience"] == 3 and "--patience 3" in metrics["command"]
    assert len(metrics["density"]) == 9
    assert all(d == pytest.approx(0.1, abs=0.01) for d in metrics["density"].values())
    printed = capsys.readouterr().out
    assert "chosen on val" in printed and "held-out engine" not in printed


@pytest.mark.parametrize(("model", "data", "message"), [
    ("gsc-cnn", "digits", "model 'gsc-cnn' spots keywords in speech; 'digits' is not speech"),
    ("cnn", "speech-commands", "model 'cnn' takes images; 'speech-commands' is speech"),
])
def test_the_other_kind_of_data_is_refused_in_one_line(tmp_path: Path, model: str, data: str,
                                                       message: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["train", "--model", model, "--data", data, "--out", str(tmp_path / "r"),
                   "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()
