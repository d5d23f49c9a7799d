"""Mult-DAE: its loss by hand, dropout only while training, and that it learns a structure."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from actsparse.train.mult_dae import MultDAE, MultDAEConfig, fit_mult_dae, multinomial_loss
from actsparse.zoo.ratings import Ratings
from actsparse.zoo.ratings_split import split_per_user
from actsparse.zoo.recommenders import Popular, evaluate_test


def test_multinomial_loss_by_hand() -> None:
    logits = torch.tensor([[0.0, math.log(3.0)]])  # softmax = (1/4, 3/4)
    x = torch.tensor([[1.0, 2.0]])
    expected = -(math.log(0.25) + 2 * math.log(0.75))
    assert float(multinomial_loss(logits, x)) == pytest.approx(expected)


def test_dropout_only_in_training_and_score_keeps_the_mode() -> None:
    torch.manual_seed(0)
    net = MultDAE(num_items=50, hidden=8)
    x = torch.ones(4, 50)
    net.train()
    assert not torch.equal(net(x), net(x))  # input dropout differs between calls
    a, b = net.score(x), net.score(x)
    assert torch.equal(a, b) and net.training
    # the input is L2-normalised: a user's row scaled up gives the same scores
    torch.testing.assert_close(net.score(3 * x), a)


def test_learns_two_groups_better_than_popular() -> None:
    rng = np.random.default_rng(0)
    users = rng.integers(0, 80, 2000)
    items = (users % 2) * 15 + rng.integers(0, 15, 2000)
    split = split_per_user(Ratings(users, items, np.ones(2000, np.float32), 80, 30), seed=0)
    model, curve = fit_mult_dae(split, MultDAEConfig(hidden=16, epochs=30, lr=1e-2))
    assert len(curve) == 30
    dae = evaluate_test(model, split)["ndcg@10"]
    assert dae > evaluate_test(Popular().fit(split.train), split)["ndcg@10"] + 0.05
