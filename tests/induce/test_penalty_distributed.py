"""DDP training with ActivationPenalty on 2 gloo ranks equals one process on the whole batch."""

from __future__ import annotations

from pathlib import Path

import torch
from _ddp import WORLD, requires_distributed, run_ranks
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from actsparse.induce.penalty import ActivationPenalty

pytestmark = requires_distributed
STEPS = 4
# (kind, target, sync_stats): kl without sync uses each rank's own batch statistics.
CASES = [("l1", None, True), ("hoyer", None, True), ("kl", 0.05, True), ("kl", 0.05, False)]


def make_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 1)
    )


def make_data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    return torch.randn(STEPS, 32, 8, generator=gen), torch.randn(STEPS, 32, 1, generator=gen)


def train(model: nn.Module, xs: torch.Tensor, ys: torch.Tensor, case: tuple) -> None:
    kind, target, sync = case
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    with ActivationPenalty(
        model, kind=kind, weight=0.5, target=target, schedule="warmup:2", sync_stats=sync
    ) as pen:
        for x, y in zip(xs, ys, strict=True):
            loss = nn.functional.mse_loss(model(x), y) + pen.loss()
            opt.zero_grad()
            loss.backward()
            opt.step()
            pen.step()


def _worker(rank: int, out: str) -> None:
    xs, ys = make_data()
    mine = slice(rank * 16, (rank + 1) * 16)  # each rank: half of every batch
    for i, case in enumerate(CASES):
        net = make_net()
        train(DistributedDataParallel(net), xs[:, mine], ys[:, mine], case)
        torch.save(net.state_dict(), Path(out) / f"case{i}_rank{rank}.pt")


def test_ddp_penalty_equals_single_process(tmp_path: Path) -> None:
    run_ranks(_worker, str(tmp_path))
    xs, ys = make_data()
    torch.set_num_threads(1)
    for i, case in enumerate(CASES):
        single = make_net()
        train(single, xs, ys, case)
        ranks = [torch.load(tmp_path / f"case{i}_rank{r}.pt") for r in range(WORLD)]
        diff = 0.0
        for name, expected in single.state_dict().items():
            assert torch.equal(ranks[0][name], ranks[1][name]), (case, name)
            diff = max(diff, float((ranks[0][name] - expected).abs().max()))
            moved = float((expected - make_net().state_dict()[name]).abs().max())
            assert moved > 1e-3, (case, name)  # training really changed the weights
        if case[2]:
            assert diff < 1e-5, (case, diff)
        else:  # local KL statistics: DDP is not the same as the whole batch
            assert diff > 1e-4, (case, diff)
