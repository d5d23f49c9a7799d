"""A keyword-spotting run folder is a speech model: the network on the log-mels it trained on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from _gsc import write_tiny_gsc

from actsparse import zoo
from actsparse.cli import main
from actsparse.train import TrainConfig, load_checkpoint, train
from actsparse.train.loop import BEST_FILE
from actsparse.train.speech_inputs import speech_features

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict]:
    data = f"speech-commands:{write_tiny_gsc(tmp_path_factory.mktemp('gsc'))}"
    out = tmp_path_factory.mktemp("runs") / "kwta"
    metrics = train(TrainConfig(model="ds-cnn", data=data, sparsity="kwta:0.2", epochs=2,
                                seed=1, batch_size=16, lr=3e-3), out, progress=False)
    return out, data, metrics


def test_a_speech_run_loads_as_the_network_on_its_log_mels(run: tuple[Path, str, dict]) -> None:
    out, data, metrics = run
    zm = zoo.load_model(out)
    assert zm.kind == "speech" and type(zm.module).__name__ == "DSCNN"
    assert not zm.module.training and len(zm.classes) == 12 and zm.classes[0] == "yes"
    best = load_checkpoint(out / BEST_FILE)
    for key, value in zm.module.state_dict().items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, best.model[key]), key
    clips = zoo.load_speech(data, "test")
    batches = list(zm.batches(clips, batch_size=5))
    assert torch.equal(torch.cat(batches), speech_features(clips.waves))
    with torch.inference_mode():
        predictions = torch.cat([zm.module(b).argmax(1) for b in batches])
    accuracy = int((predictions == clips.labels).sum()) / len(clips)
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-12)


def test_clips_of_another_length_are_refused_in_one_line(run: tuple[Path, str, dict]) -> None:
    zm = zoo.load_model(run[0])
    clips = zoo.load_speech(run[1], "test", limit=2)
    clips.waves = clips.waves[:, :12000]
    with pytest.raises(ValueError, match=r"^the model takes log-mels of 40 bands x 98 frames "
                                         r"\(1 s clips at 16 kHz\); these clips give 40 x 73$"):
        next(iter(zm.batches(clips)))


def test_accelerate_cli_takes_a_speech_run_folder(run: tuple[Path, str, dict],
                                                  tmp_path: Path) -> None:
    out, data, _ = run
    assert main(["accelerate", "--model", str(out), "--data", data, "--limit", "8",
                 "--batch-size", "1", "--repeats", "1", "--out", str(tmp_path / "a")]) == 0
    result = json.loads((tmp_path / "a" / "accelerate.json").read_text())
    assert result["quality"]["top1_agreement"] == 1.0 and "accuracy" in result["quality"]
    assert result["held_out_examples"] == 4 and result["batch_size"] == 1  # 8 test clips


@pytest.mark.parametrize(("data", "match"), [
    ("digits", "takes speech and 'digits' is not speech: use --data speech-commands"),
    ("speech-commands", "'speech-commands' is speech and model 'mnist-cnn' takes image data")])
def test_a_model_on_the_other_kind_of_data_is_refused(run: tuple[Path, str, dict],
                                                      tmp_path: Path, data: str, match: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    model = str(run[0]) if data == "digits" else "mnist-cnn"
    for command in ("profile", "accelerate"):
        assert main([command, "--model", model, "--data", data, "--limit", "4",
                     "--out", str(tmp_path / command)]) != 0
        err = capsys.readouterr().err.strip()
        assert match in err and len(err.splitlines()) == 1, err
        assert not (tmp_path / command).exists()
