"""Data-parallel SAE training on 2 gloo ranks equals one process on the whole batch."""

from __future__ import annotations

from pathlib import Path

import torch
from _ddp import WORLD, requires_distributed, run_ranks

from actsparse.interpret.sae_train import train_sae

pytestmark = requires_distributed
N, D = 64, 12  # vectors per rank
SETTINGS = dict(n_latents=40, k=4, steps=6, batch_size=N, dead_tokens=10**6, median_sample=10**6,
                seed=3)


def data() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(WORLD * N, D, generator=gen) @ torch.randn(D, D, generator=gen)


def _worker(rank: int, out: str) -> None:
    x = data()[rank * N:(rank + 1) * N]
    sae = train_sae(x, **SETTINGS).sae  # type: ignore[arg-type]
    torch.save(sae.state_dict(), Path(out) / f"rank{rank}.pt")


def _mismatch_worker(rank: int, out: str) -> None:
    try:
        train_sae(data()[rank * N:(rank + 1) * N], n_latents=40, k=4, steps=5 + rank,
                  batch_size=N)
    except ValueError as err:
        (Path(out) / f"rank{rank}.txt").write_text(str(err))


def test_two_ranks_train_the_sae_one_process_trains_on_both_halves(tmp_path: Path) -> None:
    run_ranks(_worker, str(tmp_path))
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    whole = train_sae(data(), **{**SETTINGS, "batch_size": WORLD * N}).sae  # type: ignore[arg-type]
    for name, value in whole.state_dict().items():
        torch.testing.assert_close(ranks[0][name], ranks[1][name], rtol=0, atol=0)
        torch.testing.assert_close(ranks[0][name], value, rtol=1e-4, atol=1e-5)


def test_ranks_that_disagree_on_the_steps_are_told(tmp_path: Path) -> None:
    run_ranks(_mismatch_worker, str(tmp_path))
    for rank in range(WORLD):  # every rank raises, none waits for the others
        message = (tmp_path / f"rank{rank}.txt").read_text()
        assert "disagree on the number of steps" in message and "rank 1 has 6" in message
