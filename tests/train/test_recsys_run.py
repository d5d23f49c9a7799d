"""train_recsys: the sparse codes it asks for, its metrics, its checkpoints and resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from _movielens import write_u_data

from actsparse import zoo
from actsparse.train.checkpoint import CheckpointError
from actsparse.train.recsys_run import RecsysConfig, build_mult_dae, train_recsys
from actsparse.train.spec import SparsitySpecError, parse_sparsity

pytestmark = pytest.mark.usefixtures("one_thread")

METRICS = ("recall@10", "ndcg@10", "recall@20", "ndcg@20")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_u_data(tmp_path_factory.mktemp("ml"))


def config(data: str, sparsity: str = "none", epochs: int = 2, **kw: Any) -> RecsysConfig:
    return RecsysConfig(data=data, sparsity=sparsity, epochs=epochs, hidden=40, **kw)


def test_kwta_code_has_the_asked_density_and_metrics_json_the_keys(data: str,
                                                                   tmp_path: Path) -> None:
    m = train_recsys(config(data, "kwta:0.1"), tmp_path, progress=False, command="cmd")
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(m))
    for key in METRICS:
        assert 0.0 <= on_disk[key] <= 1.0
        for name in ("ease", "itemknn", "popular"):
            assert 0.0 <= on_disk["baselines"][name][key] <= 1.0
    assert on_disk["density"] == {"act1": pytest.approx(0.1)}  # 4 winners of 40 per user
    assert set(on_disk["near_zero"]["act1"]) == {"0.01"}
    assert on_disk["sparsity"] == "kwta:0.1" and on_disk["model"] == "mult-dae"
    assert len(on_disk["history"]) == 2 and on_disk["command"] == "cmd"
    assert 1 <= on_disk["best_epoch"] <= 2
    assert (tmp_path / "checkpoint.safetensors").is_file()
    assert (tmp_path / "best.safetensors").is_file()
    with pytest.raises(zoo.ZooError, match="mult-dae recommender"):
        zoo.load_model(tmp_path)  # a run folder, but not of an image classifier


def test_topk_and_dense_densities(data: str, tmp_path: Path) -> None:
    topk = train_recsys(config(data, "topk:6", epochs=1), tmp_path / "t", progress=False)
    assert topk["density"]["act1"] == pytest.approx(6 / 40)
    dense = train_recsys(config(data, epochs=1), tmp_path / "d", progress=False)
    assert dense["density"]["act1"] > 0.99  # tanh is (almost) never exactly 0


def test_l1_pushes_the_code_towards_zero(data: str, tmp_path: Path) -> None:
    kw = {"batch_size": 8, "lr": 3e-3}  # 100 steps: Adam's steps shrink below 0.01
    dense = train_recsys(config(data, epochs=20, **kw), tmp_path / "d", progress=False)
    l1 = train_recsys(config(data, "l1:10", epochs=20, **kw), tmp_path / "l", progress=False)
    assert l1["density"]["act1"] == dense["density"]["act1"] == 1.0  # tanh: never exactly 0
    assert l1["near_zero"]["act1"]["0.01"] > 2 * dense["near_zero"]["act1"]["0.01"]


def test_the_model_each_spec_builds() -> None:
    assert isinstance(build_mult_dae(9, parse_sparsity("dropout:0.3"), 8).drop1,
                      torch.nn.Dropout)
    assert isinstance(build_mult_dae(9, parse_sparsity("l1:1e-3"), 8).act1, torch.nn.Tanh)
    kinds = [type(m).__name__ for m in build_mult_dae(9, parse_sparsity("topk:2"), 8).act1]
    assert kinds == ["Tanh", "TopK"]


def test_resume_ends_as_an_uninterrupted_run(data: str, tmp_path: Path) -> None:
    whole = train_recsys(config(data, "kwta:0.1", epochs=3), tmp_path / "a", progress=False)
    train_recsys(config(data, "kwta:0.1", epochs=1), tmp_path / "b", progress=False)
    resumed = train_recsys(config(data, "kwta:0.1", epochs=3), tmp_path / "b", resume=True,
                           progress=False)
    for key in (*METRICS, "best_epoch"):
        assert resumed[key] == whole[key], key
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in whole["history"]]
    with pytest.raises(CheckpointError, match="another run"):
        train_recsys(config(data, "kwta:0.2", epochs=3), tmp_path / "b", resume=True,
                     progress=False)


def test_refusals(data: str) -> None:
    with pytest.raises(ValueError, match="trains on ratings"):
        RecsysConfig(data="mnist").check()
    with pytest.raises(SparsitySpecError, match="cnn front end"):
        RecsysConfig(data=data, sparsity="sc:0.3").check()
    with pytest.raises(SparsitySpecError, match="larger than the code"):
        RecsysConfig(data=data, sparsity="topk:41", hidden=40).check()
