"""A study resumes after an interruption and grows by seeds or epochs without redoing runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from actsparse.study.runs import checkpoint_epoch, ensure_run, finished_metrics, run_config, run_dir
from actsparse.study.study import run_study
from actsparse.study.variants import VARIANTS, select_variants
from actsparse.train.checkpoint import load_checkpoint
from actsparse.train.loop import train
from study.study_settings import FAST

SMALL = {"train_limit": 200, "test_limit": 60, "settings": FAST, "progress": False}


@pytest.fixture(autouse=True)
def _one_thread(one_thread: None) -> None:
    """Tiny CNNs run faster on one thread of a busy machine."""


def stamp(path: Path) -> tuple[int, str]:
    return path.stat().st_mtime_ns, path.read_text()


def test_more_seeds_reuse_the_finished_runs(tmp_path: Path) -> None:
    run_study("digits", 1, 1, tmp_path, variants=["dense"], **SMALL)
    seed0 = run_dir(tmp_path, "dense", 0)
    before = {f: stamp(seed0 / f) for f in ("metrics.json", "measure.json")}
    study = run_study("digits", 2, 1, tmp_path, variants=["dense"], **SMALL)
    assert {f: stamp(seed0 / f) for f in before} == before  # not trained or measured again
    assert (run_dir(tmp_path, "dense", 1) / "measure.json").is_file()
    assert [r["seed"] for r in study["runs"]["dense"]] == [0, 1]
    assert study["summary"]["dense"]["test_accuracy"]["n"] == 2
    saved = json.loads((tmp_path / "study.json").read_text())
    assert saved["seeds"] == 2 and saved["claims"] == study["claims"]


def test_more_epochs_continue_from_the_checkpoint(tmp_path: Path) -> None:
    cfg1 = run_config("digits", VARIANTS["dense"], 0, 1, 200, 60)
    folder = run_dir(tmp_path, "dense", 0)
    first, status = ensure_run(folder, cfg1)
    assert status == "trained"
    epoch1 = load_checkpoint(folder / "checkpoint.safetensors").history[0]
    cfg2 = run_config("digits", VARIANTS["dense"], 0, 2, 200, 60)
    assert finished_metrics(folder, cfg2) is None  # a 1-epoch run is not a finished 2-epoch run
    second, status = ensure_run(folder, cfg2)
    assert status == "resumed from epoch 1"
    history = load_checkpoint(folder / "checkpoint.safetensors").history
    assert len(history) == 2 and history[0] == epoch1  # epoch 1 was not trained again
    assert second["epochs"] == 2 and finished_metrics(folder, cfg2) is not None


def test_an_interrupted_run_resumes_and_ends_as_an_uninterrupted_one(tmp_path: Path) -> None:
    cfg = run_config("digits", VARIANTS["kwta"], 0, 2, 200, 60)
    folder = run_dir(tmp_path / "study", "kwta", 0)

    def stop(epoch: int) -> None:
        raise KeyboardInterrupt(f"interrupted after epoch {epoch}")

    with pytest.raises(KeyboardInterrupt):
        train(cfg, folder, resume=True, progress=False, on_epoch=stop)
    assert checkpoint_epoch(folder) == 1 and finished_metrics(folder, cfg) is None
    run_study("digits", 1, 2, tmp_path / "study", variants=["dense", "kwta"], **SMALL)
    resumed = json.loads((folder / "metrics.json").read_text())
    whole = train(cfg, tmp_path / "whole", progress=False)
    assert resumed["test_accuracy"] == whole["test_accuracy"]
    a = load_checkpoint(folder / "checkpoint.safetensors").model
    b = load_checkpoint(tmp_path / "whole" / "checkpoint.safetensors").model
    assert all(torch.equal(a[k], b[k]) for k in a if isinstance(a[k], torch.Tensor))


def test_a_damaged_metrics_file_means_the_run_is_resumed(tmp_path: Path) -> None:
    cfg = run_config("digits", VARIANTS["dense"], 0, 1, 200, 60)
    ensure_run(tmp_path, cfg)
    (tmp_path / "metrics.json").write_text("{not json")
    assert finished_metrics(tmp_path, cfg) is None
    assert ensure_run(tmp_path, cfg)[1] == "resumed from epoch 1"


def test_measurements_are_cached_until_the_settings_change(tmp_path: Path) -> None:
    from dataclasses import replace

    run_study("digits", 1, 1, tmp_path, variants=["dense"], **SMALL)
    measure = run_dir(tmp_path, "dense", 0) / "measure.json"
    first = stamp(measure)
    run_study("digits", 1, 1, tmp_path, variants=["dense"], **SMALL)
    assert stamp(measure) == first
    run_study("digits", 1, 1, tmp_path, variants=["dense"],
              **{**SMALL, "settings": replace(FAST, latency_images=10)})
    assert stamp(measure) != first
    assert json.loads(measure.read_text())["latency"]["images"] == 10


def test_variant_selection_errors() -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        select_variants(["dense", "relu6"])
    with pytest.raises(ValueError, match="must include 'dense'"):
        select_variants(["l1", "kwta"])
    with pytest.raises(ValueError, match="named twice"):
        select_variants(["dense", "dense"])
    chosen, skipped = select_variants()
    assert [v.name for v in chosen][:5] == ["dense", "dropout", "l1", "hoyer", "kwta"]
    assert set(skipped) <= {"sc"}  # left out only while actsparse.train cannot train it


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"data": "cifar"}, "unknown data"),
    ({"seeds": 0}, "seeds must be"),
    ({"epochs": 0}, "epochs must be"),
    ({"train_limit": 5}, "train_limit must be"),
])
def test_bad_settings_are_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"data": "digits", "seeds": 1, "epochs": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        run_study(args.pop("data"), args.pop("seeds"), args.pop("epochs"), tmp_path, **args)
