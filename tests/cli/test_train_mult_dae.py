"""`actsparse train --model mult-dae`: metrics.json from the command line, and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _movielens import write_u_data

from actsparse.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def test_kwta_run_writes_metrics_with_baselines(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    data = write_u_data(tmp_path)
    out = tmp_path / "run"
    assert main(["train", "--model", "mult-dae", "--data", data, "--sparsity", "kwta:0.1",
                 "--epochs", "2", "--out", str(out), "--no-progress"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["density"] == {"act1": pytest.approx(0.1)}  # 60 of the 600 code units
    assert {"ndcg@20", "recall@20", "ndcg@10", "recall@10"} <= set(m)
    assert sorted(m["baselines"]) == ["ease", "itemknn", "popular"]
    assert m["epochs"] == 2 and m["config"]["lr_decay"] == 1.0  # mult-dae: no decay
    assert "--lr-decay 1 " in m["command"] and "EASE NDCG@20" in capsys.readouterr().out


@pytest.mark.parametrize(("model", "data", "message"), [
    ("mult-dae", "digits", "--model mult-dae trains on ratings"),
    ("cnn", "movielens-100k",
     "--model cnn trains on images or speech; 'movielens-100k' is ratings data"),
    ("mlp", "movielens:u.data", "use --model mult-dae"),
])
def test_model_and_data_of_different_kinds_are_refused(
        model: str, data: str, message: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--model", model, "--data", data, "--out", str(tmp_path / "r"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_limit_is_refused_for_mult_dae(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--model", "mult-dae", "--data", write_u_data(tmp_path),
                 "--limit", "5", "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    assert "--limit" in capsys.readouterr().err
