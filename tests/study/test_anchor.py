"""Numenta's anchor table: their published MNIST rows, ours beside them scaled per 10,000."""

from __future__ import annotations

from typing import Any

from actsparse.study.anchor import NUMENTA_MNIST, anchor_rows


def mnist_runs() -> dict[str, list[dict[str, Any]]]:
    def run(acc: float, score: int) -> dict[str, Any]:
        return {"test_accuracy": acc, "noise_score": score, "test_images": 2000}
    return {"dense": [run(0.95, 18000), run(0.96, 18200)],
            "kwta": [run(0.94, 19000), run(0.95, 19400)],
            "l1": [run(0.96, 19500), run(0.96, 19700)]}


def test_anchor_has_numentas_rows_and_ours() -> None:
    anchor = anchor_rows(mnist_runs(), "mnist", "l1")
    assert anchor["numenta"] == list(NUMENTA_MNIST)
    assert [r["variant"] for r in anchor["ours"]] == ["dense", "kwta", "l1"]
    dense = anchor["ours"][0]
    assert dense["noise_score"]["mean"] == 18100
    assert dense["noise_score_per_10k"]["mean"] == 90500  # scaled from 2,000 test images
    assert dense["seeds"] == 2 and dense["noise_score"]["lo"] is not None
    assert not anchor_rows(mnist_runs(), "fashion-mnist", None)["available"]
