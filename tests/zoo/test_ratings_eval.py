"""Recall@K and NDCG@K against small examples computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from actsparse.zoo.ratings_eval import ranking_metrics, top_n


def test_hand_computed_two_users() -> None:
    # user 0: ranking (item 0 excluded) 1, 2, 3, 4, 5; held out {2, 5, 4}
    # user 1: ranking 5, 4, 3, 2, 1, 0; held out {5}
    scores = torch.tensor([[9.0, 8, 7, 6, 5, 4], [0.0, 1, 2, 3, 4, 5]])
    exclude = torch.tensor([[1.0, 0, 0, 0, 0, 0], [0.0, 0, 0, 0, 0, 0]])
    target = torch.tensor([[0.0, 0, 1, 0, 1, 1], [0.0, 0, 0, 0, 0, 1]])
    m = ranking_metrics(scores, exclude, target, ks=(2, 5))
    # K=2: user 0 hits item 2 at rank 2 of min(2, 3)=2 -> recall 1/2; user 1 hit at rank 1 -> 1
    assert m["recall@2"] == pytest.approx((0.5 + 1.0) / 2)
    ndcg0 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert m["ndcg@2"] == pytest.approx((ndcg0 + 1.0) / 2)
    # K=5: user 0 hits at ranks 2, 4, 5 of min(5, 3)=3 -> recall 1
    dcg = 1 / math.log2(3) + 1 / math.log2(5) + 1 / math.log2(6)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m["recall@5"] == pytest.approx(1.0)
    assert m["ndcg@5"] == pytest.approx((dcg / idcg + 1.0) / 2)


def test_users_without_held_out_items_are_left_out() -> None:
    scores = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    target = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    assert ranking_metrics(scores, torch.zeros(2, 2), target, ks=(1,))["recall@1"] == 1.0


def test_excluded_items_are_never_ranked() -> None:
    scores = torch.arange(5.0).repeat(3, 1)
    exclude = torch.tensor([[0.0, 0, 0, 1, 1]]).repeat(3, 1)
    assert set(top_n(scores, exclude, 3).flatten().tolist()) == {0, 1, 2}
