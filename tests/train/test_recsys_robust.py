"""run_robustness and robustness: NDCG@20 of a run folder and of EASE under injected items."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _movielens import write_u_data

from actsparse.train.recsys_robust import load_run, robustness, run_robustness
from actsparse.train.recsys_run import RecsysConfig, train_recsys
from actsparse.zoo.ratings_split import RatingsSplit

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("robust")
    data = write_u_data(folder)
    config = RecsysConfig(data=data, sparsity="kwta:0.1", epochs=3, hidden=40)
    return folder / "run", train_recsys(config, folder / "run", progress=False)


def test_a_run_folder_at_p_0_scores_what_its_metrics_json_says(run: tuple[Path, dict]) -> None:
    folder, metrics = run
    out = run_robustness(folder, ps=(0.0, 0.5))
    assert out["sparsity"] == "kwta:0.1" and out["seed"] == 0
    assert out["model"]["0.0"]["ndcg@20"] == pytest.approx(metrics["ndcg@20"], abs=1e-6)
    assert out["ease"]["0.0"]["ndcg@20"] == pytest.approx(metrics["baselines"]["ease"]["ndcg@20"],
                                                          abs=1e-6)
    for name in ("model", "ease"):
        row = out[name]["0.5"]
        assert 0.0 <= row["ndcg@20"] <= 1.0 and 0.0 <= row["recall@20"] <= 1.0
        assert row["drop"] == pytest.approx(1 - row["ndcg@20"] / out[name]["0.0"]["ndcg@20"])
    model, split, _ = load_run(folder)
    assert not model.training and split.num_items == model.num_items


def test_noise_that_the_scorer_follows_lowers_ndcg() -> None:
    # Each user has seen item 0 and its test item is 1; a scorer that recommends what follows
    # each seen item (i -> i + 1) ranks item 1 first until injected items push others above.
    users, items = 200, 40
    seen = torch.zeros(users, items)
    seen[:, 0] = 1.0
    seen[:, 10:20] = 1.0
    test = torch.zeros(users, items)
    test[:, 1] = 1.0
    follow = 2.0 * torch.roll(torch.eye(items), 1, dims=1)  # item i's successor scores 2
    follow[0] *= 0.5  # but the genuine item 0 gives its successor, the test item, only 1
    follow[10:20] *= 0.05  # and the rest of the history points weakly elsewhere
    split = RatingsSplit(seen, torch.zeros(users, items), test, 0)
    out = robustness(lambda x: x @ follow, split, ps=(0.0, 0.5), seed=0)
    assert out["0.0"]["ndcg@20"] == pytest.approx(1.0)
    assert out["0.5"]["drop"] > 0.3  # 5 injected successors outrank the test item


def test_ps_without_0_and_an_unfinished_folder_are_refused(tmp_path: Path) -> None:
    split = RatingsSplit(torch.eye(3), torch.zeros(3, 3), torch.zeros(3, 3), 0)
    with pytest.raises(ValueError, match="must contain 0"):
        robustness(lambda x: x, split, ps=(0.1,))
    with pytest.raises(FileNotFoundError, match="not a finished"):
        run_robustness(tmp_path)
