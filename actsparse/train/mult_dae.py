"""Mult-DAE (Liang et al. 2018): a denoising autoencoder over a user's items, [I-600-I].

The user's 0/1 row is L2-normalised, dropped out at rate 0.5 (training only), encoded to a
600-unit tanh code ``act1`` and decoded to one logit per item; the loss is the multinomial
log-likelihood of the user's items, ``-sum_i x_i log softmax(z)_i``. Training keeps the weights
of the epoch with the best validation NDCG@20 (the protocol of :mod:`actsparse.zoo.ratings_split`).
``actsparse train --model mult-dae`` (:mod:`actsparse.train.recsys_run`) swaps ``act1`` for a
sparse one (tanh then k-WTA or TopK) or adds dropout on the code (``drop1``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from actsparse._hooks import evaluating
from actsparse.zoo.ratings_eval import ranking_metrics
from actsparse.zoo.ratings_split import RatingsSplit


class MultDAE(nn.Module):
    """Items -> dropout -> Linear -> tanh (``act1``) -> ``drop1`` -> Linear -> item logits.

    ``act`` replaces the tanh of ``act1`` (e.g. tanh followed by k-WTA); ``code_dropout`` is
    the dropout rate of ``drop1`` on the hidden code (0: none, an ``nn.Identity``).

    Shape:
        - Input: ``(B, I)`` 0/1 interactions. Output: ``(B, I)`` logits.

    Example:
        >>> import torch
        >>> net = MultDAE(num_items=7, hidden=4)
        >>> tuple(net(torch.ones(2, 7)).shape), net.extra_repr()
        ((2, 7), 'items=7, hidden=4, dropout=0.5')
    """

    def __init__(self, num_items: int, hidden: int = 600, dropout: float = 0.5, *,
                 act: nn.Module | None = None, code_dropout: float = 0.0) -> None:
        super().__init__()
        self.num_items, self.hidden, self.p = num_items, hidden, dropout
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Linear(num_items, hidden)
        self.act1 = act if act is not None else nn.Tanh()
        self.drop1 = nn.Dropout(code_dropout) if code_dropout > 0 else nn.Identity()
        self.decoder = nn.Linear(hidden, num_items)

    def forward(self, x: Tensor) -> Tensor:
        x = F.normalize(x, dim=1)  # (B, I), unit L2 norm per user
        h = self.drop1(self.act1(self.encoder(self.drop(x))))  # (B, H)
        return self.decoder(h)  # (B, I)

    def score(self, x: Tensor) -> Tensor:
        """Item scores for users ``x`` in evaluation mode (no dropout)."""
        with evaluating(self), torch.no_grad():
            return self(x)

    def extra_repr(self) -> str:
        return f"items={self.num_items}, hidden={self.hidden}, dropout={self.p}"


def multinomial_loss(logits: Tensor, x: Tensor) -> Tensor:
    """Mean over users of ``-sum_i x_i log softmax(logits)_i``.

    Example:
        >>> import torch
        >>> round(float(multinomial_loss(torch.zeros(1, 4), torch.tensor([[1.0, 0, 0, 1]]))), 4)
        2.7726
    """
    return -(F.log_softmax(logits, dim=1) * x).sum(1).mean()


@dataclass
class MultDAEConfig:
    """Training settings; Liang et al.'s values where they give one."""

    hidden: int = 600
    dropout: float = 0.5
    epochs: int = 100
    batch_size: int = 128  # ml-100k has 943 users: 8 steps an epoch
    lr: float = 1e-3
    weight_decay: float = 0.0  # Liang et al. use L2 0.01 / 2 on TF weights; here Adam's is off
    seed: int = 0


def fit_mult_dae(split: RatingsSplit, config: MultDAEConfig) -> tuple[MultDAE, list[float]]:
    """Train on ``split.train``; return the best-validation model and each epoch's NDCG@20.

    Example:
        >>> import torch
        >>> x = (torch.rand(20, 9, generator=torch.Generator().manual_seed(0)) < 0.5).float()
        >>> s = RatingsSplit(x, torch.zeros_like(x), torch.zeros_like(x), 0)
        >>> model, curve = fit_mult_dae(s, MultDAEConfig(hidden=4, epochs=2))
        >>> len(curve)
        2
    """
    torch.manual_seed(config.seed)
    model = MultDAE(split.num_items, config.hidden, config.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(config.seed)
    users = split.train.shape[0]
    best, best_state, curve = float("-inf"), model.state_dict(), []
    has_val = bool(split.val.sum() > 0)
    for _ in range(config.epochs):
        model.train()
        for idx in torch.randperm(users, generator=gen).split(config.batch_size):
            x = split.train[idx]
            loss = multinomial_loss(model(x), x)
            opt.zero_grad()
            loss.backward()
            opt.step()
        ndcg = (ranking_metrics(model.score(split.train), split.train, split.val)["ndcg@20"]
                if has_val else float("nan"))
        curve.append(ndcg)
        if not has_val or ndcg > best:
            best = ndcg if has_val else best
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return model, curve
