"""Whole training runs on the small `digits` data: outputs, resuming, and refused checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from actsparse.train import CheckpointError, TrainConfig, load_checkpoint, train

LIMIT = 400  # training images: a 1-epoch cnn run takes well under a second


pytestmark = pytest.mark.usefixtures("one_thread")


def config(**kw: object) -> TrainConfig:
    base: dict[str, object] = {"model": "mlp", "data": "digits", "epochs": 1, "seed": 3,
                               "batch_size": 64, "train_limit": LIMIT}
    return TrainConfig(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(("model", "sparsity"),
                         [("mlp", "dropout:0.3"), ("cnn", "kwta:0.2"), ("mlp", "l1:0.05")])
def test_resumed_run_ends_exactly_as_an_uninterrupted_one(tmp_path: Path, model: str,
                                                          sparsity: str) -> None:
    whole = train(config(model=model, sparsity=sparsity, epochs=2), tmp_path / "whole",
                  progress=False)

    class Stop(Exception):
        pass

    def interrupt(epoch: int) -> None:
        raise Stop  # killed right after epoch 1's checkpoint

    with pytest.raises(Stop):
        train(config(model=model, sparsity=sparsity, epochs=2), tmp_path / "cut",
              progress=False, on_epoch=interrupt)
    assert not (tmp_path / "cut" / "metrics.json").exists()
    resumed = train(config(model=model, sparsity=sparsity, epochs=2), tmp_path / "cut",
                    resume=True, progress=False)

    for key in ("test_accuracy", "train_accuracy", "density", "epochs"):
        assert resumed[key] == whole[key], key
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in whole["history"]]
    a = load_checkpoint(tmp_path / "whole" / "checkpoint.safetensors")
    b = load_checkpoint(tmp_path / "cut" / "checkpoint.safetensors")
    assert a.model.keys() == b.model.keys()
    for name, value in a.model.items():
        if isinstance(value, torch.Tensor):
            torch.testing.assert_close(b.model[name], value, rtol=0, atol=0)
        else:
            assert b.model[name] == value, name


def test_extending_a_finished_run_with_resume_matches_a_longer_run(tmp_path: Path) -> None:
    train(config(epochs=1), tmp_path / "short", progress=False)
    extended = train(config(epochs=2), tmp_path / "short", resume=True, progress=False)
    longer = train(config(epochs=2), tmp_path / "long", progress=False)
    assert extended["test_accuracy"] == longer["test_accuracy"]
    assert extended["density"] == longer["density"]


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"model": "cnn"}, "model is 'mlp' there but 'cnn' here"),
        ({"sparsity": "kwta:0.1"}, "sparsity is 'none' there but 'kwta:0.1' here"),
        ({"seed": 4}, "seed is 3 there but 4 here"),
    ],
)
def test_checkpoint_of_another_run_is_refused(tmp_path: Path, changed: dict[str, object],
                                              message: str) -> None:
    train(config(), tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="is of another run") as err:
        train(config(**changed), tmp_path, resume=True, progress=False)
    assert message in str(err.value)
    assert "write to another --out" in str(err.value)


def test_resume_with_fewer_epochs_than_the_checkpoint_is_refused(tmp_path: Path) -> None:
    train(config(epochs=2), tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="has 2 epochs, more than the 1 asked for"):
        train(config(epochs=1), tmp_path, resume=True, progress=False)


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path: Path) -> None:
    (tmp_path / "checkpoint.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="is not a readable safetensors checkpoint"):
        train(config(), tmp_path, resume=True, progress=False)
