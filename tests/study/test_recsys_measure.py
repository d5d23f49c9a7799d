"""measure_recsys_run on tiny MovieLens runs: quality, robustness, bytes, genres, overlap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from _movielens import GROUP_GENRES, write_u_data, write_u_item

from actsparse.study.recsys_measure import (
    RecsysMeasureSettings,
    film_histories,
    genre_matrix,
    measure_recsys_run,
    user_genre_labels,
)
from actsparse.train.recsys_run import RecsysConfig, train_recsys

pytestmark = pytest.mark.usefixtures("one_thread")
SETTINGS = RecsysMeasureSettings(ps=(0.0, 0.5), top_units=4, top_films=3)


def _train(folder: Path, data: str, sparsity: str) -> tuple[Path, RecsysConfig, dict[str, Any]]:
    config = RecsysConfig(data=data, sparsity=sparsity, epochs=3, hidden=40)
    run = folder / sparsity.replace(":", "_")
    return run, config, train_recsys(config, run, progress=False)


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("recsys_measure")
    data = write_u_data(folder)
    write_u_item(folder)
    out = {}
    for spec in ("none", "kwta:0.1"):
        run, config, metrics = _train(folder, data, spec)
        out[spec] = (run, config, metrics, measure_recsys_run(run, config, metrics, SETTINGS))
    return out


def test_quality_is_metrics_json_and_robustness_starts_at_no_drop(measured: dict) -> None:
    _, _, metrics, m = measured["kwta:0.1"]
    assert m["ndcg@20"] == metrics["ndcg@20"]
    assert m["ndcg_vs_ease"] == pytest.approx(metrics["ndcg@20"]
                                              / metrics["baselines"]["ease"]["ndcg@20"])
    r = m["robustness"]
    assert r["model"]["0.0"]["drop"] == 0.0 and r["drop_max"] == r["model"]["0.5"]["drop"]
    assert r["drop_mean"] == r["drop_max"]  # one level above 0
    assert set(r["ease"]) >= {"0.0", "0.5", "lambda"}


def test_code_bytes_store_the_kwta_code_sparse_and_the_dense_code_dense(measured: dict) -> None:
    dense, kwta = measured["none"][3]["code_bytes"], measured["kwta:0.1"][3]["code_bytes"]
    users = measured["none"][3]["users"]
    assert dense["format"] == "dense" and dense["ratio"] == 1.0
    assert dense["dense"] == users * 40 * 4
    assert kwta["format"] == "sparse" and kwta["nonzeros"] == users * 4  # 10% of 40 units
    assert kwta["sparse"] == users * 4 * 6 + (users + 1) * 4
    assert kwta["ratio"] == pytest.approx(kwta["sparse"] / kwta["dense"])


def test_overlap_dense_codes_share_every_unit_until_thresholded(measured: dict) -> None:
    dense, kwta = measured["none"][3]["overlap"], measured["kwta:0.1"][3]["overlap"]
    assert dense["own"]["pairwise"] == 1.0 and dense["own"]["density"] == 1.0
    assert dense["matched"]["density"] == 0.1 and dense["matched"]["pairwise"] < 1.0
    assert kwta["own"]["density"] == pytest.approx(0.1)
    assert kwta["matched"]["pairwise"] == pytest.approx(kwta["own"]["pairwise"])  # its own cut
    for part in (dense["matched"], kwta["own"]):
        assert part["pairwise_over_chance"] == pytest.approx(part["pairwise"] / part["chance"])


def test_genre_selectivity_and_top_films_name_the_data_genres(measured: dict) -> None:
    for spec in ("none", "kwta:0.1"):
        m = measured[spec][3]
        assert m["genres"] == sorted(GROUP_GENRES)
        for part in ("films", "users"):
            s = m["selectivity"][part]
            assert 0.0 <= s["mean_index"] <= 1.0 and set(s["preferred"]) == set(GROUP_GENRES)
        units = m["units"]
        assert 1 <= len(units) <= 4
        assert [u["index"] for u in units] == sorted((u["index"] for u in units), reverse=True)
        for u in units:
            assert u["genre"] in GROUP_GENRES and 1 <= len(u["films"]) <= 3
            assert all(f.startswith("Film ") for f in u["films"])
            assert all(len(g) == 1 for g in u["film_genres"])


def test_the_cache_is_reused_and_follows_the_settings(measured: dict) -> None:
    run, config, metrics, m = measured["none"]
    again = measure_recsys_run(run, config, metrics, SETTINGS)
    assert again["measure_seconds"] == m["measure_seconds"]
    other = measure_recsys_run(run, config, metrics, RecsysMeasureSettings(ps=(0.0, 0.25)))
    assert "0.25" in other["robustness"]["model"]
    assert json.loads((run / "measure.json").read_text())["key"]["settings"]["ps"] == [0.0, 0.25]


def test_without_genres_only_the_pairwise_overlap_is_measured(tmp_path: Path) -> None:
    run, config, metrics = _train(tmp_path, write_u_data(tmp_path), "topk:4")
    m = measure_recsys_run(run, config, metrics, SETTINGS)
    assert m["selectivity"] is None and m["units"] is None and m["genres"] == []
    assert "between" not in m["overlap"]["own"] and 0 < m["overlap"]["own"]["pairwise"] <= 1


def test_genre_helpers() -> None:
    films, names = genre_matrix([["B"], ["A", "B"], ["A"]])
    assert names == ["A", "B"]
    x, y = film_histories(films)
    assert x.sum(1).tolist() == [1.0] * 4 and y.tolist() == [1, 0, 1, 0]
    seen = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    assert user_genre_labels(seen, films).tolist() == [1, 0, -1]


def test_tiny_users_are_labelled_with_the_genre_of_their_group(tmp_path: Path) -> None:
    from actsparse.zoo.ratings import load_ratings
    from actsparse.zoo.ratings_split import interactions

    data = write_u_data(tmp_path)
    write_u_item(tmp_path)
    r = load_ratings(data)
    films, names = genre_matrix(r.genres)
    labels = user_genre_labels(interactions(r), films)
    groups = [GROUP_GENRES[(i + 1) % 3] for i in range(r.num_users)]  # raw id i + 1
    assert [names[i] for i in labels.tolist()] == groups  # user u rates films of group u % 3
