"""A run folder of `actsparse train` is a model: zoo.load_model(DIR) and --model DIR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from actsparse import zoo
from actsparse.cli import main
from actsparse.train import TrainConfig, train
from actsparse.train.checkpoint import load_checkpoint
from actsparse.train.run_folder import is_run_folder

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("runs") / "kwta"
    metrics = train(TrainConfig(model="cnn", data="digits", sparsity="kwta:0.2", epochs=1,
                                train_limit=300), out, progress=False)
    return out, metrics


def test_load_model_rebuilds_the_trained_network(run: tuple[Path, dict]) -> None:
    out, metrics = run
    assert is_run_folder(out) and not is_run_folder(out.parent)
    zm = zoo.load_model(out)
    assert zm.kind == "image" and zm.name == str(out) and not zm.module.training
    assert type(zm.module).__name__ == "CNN" and type(zm.module.act1).__name__ == "KWinners2d"
    ckpt = load_checkpoint(out / "checkpoint.safetensors")
    for key, value in zm.module.state_dict().items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, ckpt.model[key]), key
    assert zm.module.act1.boost_strength == ckpt.model["act1._extra_state"]["boost_strength"]
    data = zoo.load_data("digits", split="test")
    batches = list(zm.batches(data, batch_size=500))
    assert torch.equal(torch.cat(batches), data.images)  # fed as in training: unchanged
    with torch.inference_mode():
        predictions = torch.cat([zm.module(b).argmax(1) for b in batches])
    accuracy = int((predictions == data.labels).sum()) / len(data.labels)
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-12)


def test_a_broken_run_folder_says_so(tmp_path: Path) -> None:
    (tmp_path / "checkpoint.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(zoo.ZooError, match="not a run folder"):
        zoo.load_model(tmp_path)


def test_cli_takes_a_run_folder_as_model(run: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = run
    assert main(["profile", "--model", str(out), "--data", "digits", "--limit", "64",
                 "--out", str(tmp_path / "p"), "--no-progress"]) == 0
    summary = json.loads((tmp_path / "p" / "profile.json").read_text())
    assert [layer["name"] for layer in summary["layers"]] == ["act1", "act2", "act3"]
    assert main(["accelerate", "--model", str(out), "--data", "digits", "--limit", "64",
                 "--repeats", "2", "--out", str(tmp_path / "a")]) == 0
    result = json.loads((tmp_path / "a" / "accelerate.json").read_text())
    assert result["model"] == str(out) and result["report"]["totals"]["chosen"]
