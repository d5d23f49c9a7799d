"""run_study on ratings: the recommender study, its claims table, reuse of benchmark runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from _movielens import write_u_data, write_u_item

from actsparse.study.measurements import MeasureSettings
from actsparse.study.recsys_claims import RECSYS_CLAIMS
from actsparse.study.recsys_measure import RecsysMeasureSettings
from actsparse.study.recsys_study import adopt_run, benchmark_run
from actsparse.study.study import run_study
from actsparse.train.recsys_run import RecsysConfig, train_recsys

pytestmark = pytest.mark.usefixtures("one_thread")
SETTINGS = RecsysMeasureSettings(ps=(0.0, 0.5), top_units=3, top_films=2)
EPOCHS = 2


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """dense and k-WTA, 2 seeds; dense seed 1 trained beforehand where the benchmark puts it."""
    folder = tmp_path_factory.mktemp("recsys_study")
    data = write_u_data(folder)
    write_u_item(folder)
    bench = folder / "bench"
    train_recsys(RecsysConfig(data=data, sparsity="none", seed=1, epochs=EPOCHS),
                 benchmark_run(bench, "none", 1), progress=False)
    out = folder / "study"
    study = run_study(data, 2, EPOCHS, out, variants=["dense", "kwta"], reuse=bench,
                      settings=SETTINGS, progress=False)
    return {"data": data, "bench": bench, "out": out, "study": study}


def test_the_claims_table_has_the_recsys_claims_with_intervals(tiny: dict) -> None:
    study = tiny["study"]
    assert study["kind"] == "recsys" and study["seeds"] == 2
    assert [c["claim"] for c in study["claims"]] == [c.key for c in RECSYS_CLAIMS]
    for c in study["claims"]:
        assert c["verdict"] in ("supported", "not supported", "inconclusive")
        assert c["best"] == "kwta" and c["dense"]["n"] == 2
    memory = next(c for c in study["claims"] if c["claim"] == "memory")
    assert memory["verdict"] == "supported"  # 10% of the units: fewer bytes on every seed
    assert json.loads((tiny["out"] / "study.json").read_text())["claims"] == study["claims"]


def test_runs_baselines_curves_and_units(tiny: dict) -> None:
    study = tiny["study"]
    assert [r["seed"] for r in study["runs"]["kwta"]] == [0, 1]
    assert set(study["baselines"]) == {"ease", "itemknn", "popular"}
    assert study["baselines"]["ease"]["ndcg@20"]["n"] == 2
    assert set(study["robustness_curves"]) == {"dense", "kwta", "ease"}
    assert study["robustness_curves"]["kwta"]["0.0"]["drop"]["mean"] == 0.0
    assert study["units"]["kwta"] and "units" not in study["runs"]["kwta"][0]


def test_the_benchmark_run_was_linked_in_not_trained(tiny: dict) -> None:
    assert tiny["study"]["reused"]["runs"] == ["dense/seed1"]
    mine = tiny["out"] / "runs" / "dense" / "seed1" / "best.safetensors"
    theirs = benchmark_run(tiny["bench"], "none", 1) / "best.safetensors"
    assert mine.read_bytes() == theirs.read_bytes()
    assert not (theirs.parent / "measure.json").exists()  # the benchmark folder is left alone


def test_the_report_shows_the_recsys_tables(tiny: dict) -> None:
    page = (tiny["out"] / "report.html").read_text()
    for title in ("Claims", "Robustness to irrelevant items", "Overlap of users",
                  "Genre-selective units and their films", "Baselines", "Method"):
        assert title in page
    assert "Numenta" not in page and "Film " in page


def test_a_rerun_trains_nothing(tiny: dict, capsys: pytest.CaptureFixture[str]) -> None:
    before = os.stat(tiny["out"] / "runs" / "kwta" / "seed0" / "metrics.json").st_mtime_ns
    run_study(tiny["data"], 2, EPOCHS, tiny["out"], variants=["dense", "kwta"],
              reuse=tiny["bench"], settings=SETTINGS)
    printed = capsys.readouterr().out
    assert printed.count(": done;") == 4
    assert os.stat(tiny["out"] / "runs" / "kwta" / "seed0" / "metrics.json").st_mtime_ns == before


def test_adopt_run_takes_only_the_same_config(tiny: dict, tmp_path: Path) -> None:
    source = benchmark_run(tiny["bench"], "none", 1)
    other = RecsysConfig(data=tiny["data"], sparsity="none", seed=1, epochs=EPOCHS + 1)
    assert not adopt_run(tmp_path / "a", other, source)
    same = RecsysConfig(data=tiny["data"], sparsity="none", seed=1, epochs=EPOCHS)
    assert adopt_run(tmp_path / "b", same, source)
    assert not adopt_run(tmp_path / "b", same, source)  # already there


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"train_limit": 100}, "--train-limit and --test-limit cut image data"),
    ({"variants": ["dense", "hoyer"]}, "are for image studies"),
    ({"variants": ["dense", "bogus"]}, "unknown variant"),
    ({"settings": MeasureSettings()}, "MeasureSettings are for image studies"),
    ({"reuse": "/nonexistent/runs"}, "--reuse /nonexistent/runs: no such folder"),
])
def test_refusals(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_study(write_u_data(tmp_path), 2, 1, tmp_path / "s", progress=False, **kwargs)
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"reuse": "runs"}, "applies to ratings data"),
    ({"jobs": 2}, "an image study trains its runs one after another"),
])
def test_image_studies_refuse_ratings_options(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_study("digits", 2, 1, tmp_path / "s", progress=False, **kwargs)


def test_jobs_train_in_parallel_what_a_sequential_study_trains(tiny: dict, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]
                                                               ) -> None:
    study = run_study(tiny["data"], 2, EPOCHS, tmp_path / "s", variants=["dense", "kwta"],
                      jobs=2, settings=SETTINGS)
    printed = capsys.readouterr().out
    assert "training 4 run(s) in 2 processes" in printed and printed.count(": trained;") == 4
    for v in ("dense", "kwta"):  # the same seeded runs as the study trained one by one
        assert ([r["ndcg@20"] for r in study["runs"][v]]
                == [r["ndcg@20"] for r in tiny["study"]["runs"][v]])
