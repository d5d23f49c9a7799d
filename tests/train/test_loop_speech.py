"""Training the keyword-spotting models on a tiny Speech Commands folder: selection on val,
the metrics a speech run writes, resuming, early stopping and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from _gsc import write_tiny_gsc

from actsparse.train import TrainConfig, load_checkpoint, train
from actsparse.train.loop import BEST_FILE

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def gsc(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"speech-commands:{write_tiny_gsc(tmp_path_factory.mktemp('gsc'))}"


def config(data: str, **kw: object) -> TrainConfig:
    base: dict[str, object] = {"model": "ds-cnn", "data": data, "epochs": 3, "seed": 1,
                               "batch_size": 16, "lr": 3e-3}
    return TrainConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_kwta_ds_cnn_run_writes_speech_metrics(tmp_path: Path, gsc: str) -> None:
    m = train(config(gsc, sparsity="kwta:0.2"), tmp_path, progress=False)
    for key in ("test_accuracy", "train_accuracy", "val_accuracy", "heldout_engine_accuracy",
                "best_epoch", "epochs_run", "density", "history", "command"):
        assert key in m, key
    assert m["heldout_engine_accuracy"] is None  # recorded speech has no held-out engine
    assert list(m["density"]) == [f"act{i}" for i in range(1, 10)]
    assert all(d == pytest.approx(0.2, abs=0.01) for d in m["density"].values())
    vals = [h["val_accuracy"] for h in m["history"]]
    assert m["epochs_run"] == 3 and m["best_epoch"] == vals.index(max(vals)) + 1
    assert m["val_accuracy"] == max(vals)
    assert load_checkpoint(tmp_path / BEST_FILE).epoch == m["best_epoch"]


def test_the_chosen_epoch_is_the_model_that_is_measured(tmp_path: Path, gsc: str) -> None:
    m = train(config(gsc, epochs=5), tmp_path, progress=False)
    assert m["best_epoch"] < m["epochs_run"] == 5  # else this test shows nothing: change seed
    one = train(config(gsc, epochs=m["best_epoch"]), tmp_path / "short", progress=False)
    # ReLU densities differ from epoch to epoch: equal ones say the same weights were measured
    assert one["density"] == m["density"] and one["test_accuracy"] == m["test_accuracy"]
    assert len(set(m["density"].values())) > 1


def test_resumed_speech_run_ends_as_an_uninterrupted_one(tmp_path: Path, gsc: str) -> None:
    whole = train(config(gsc, sparsity="kwta:0.3"), tmp_path / "whole", progress=False)

    class Stop(Exception):
        pass

    def interrupt(epoch: int) -> None:
        if epoch == 2:
            raise Stop

    with pytest.raises(Stop):
        train(config(gsc, sparsity="kwta:0.3"), tmp_path / "cut", progress=False,
              on_epoch=interrupt)
    resumed = train(config(gsc, sparsity="kwta:0.3"), tmp_path / "cut", resume=True,
                    progress=False)
    for key in ("test_accuracy", "val_accuracy", "best_epoch", "density"):
        assert resumed[key] == whole[key], key


def test_patience_stops_after_epochs_without_a_better_val(tmp_path: Path, gsc: str) -> None:
    m = train(config(gsc, epochs=6, patience=1, lr=1e-6), tmp_path, progress=False)
    vals = [h["val_accuracy"] for h in m["history"]]
    assert m["epochs_run"] == len(vals) < 6  # a learning rate this small never improves much
    assert m["epochs_run"] - m["best_epoch"] == 1


@pytest.mark.parametrize(("model", "data"), [("ds-cnn", "digits"), ("cnn", "speech-commands")])
def test_models_on_the_other_kind_of_data_are_refused(tmp_path: Path, model: str,
                                                      data: str) -> None:
    with pytest.raises(ValueError, match="speech"):
        train(config(data, model=model), tmp_path, progress=False)
    assert not tmp_path.joinpath("metrics.json").exists()
