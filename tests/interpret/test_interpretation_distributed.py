"""Selectivity, overlap and top examples on two gloo ranks with all_reduce equal one process.

Each rank measures a contiguous shard of the data with ``run_observers(..., start=...)`` so that
sample indices are global; then selectivity is equal up to float rounding, and the overlap
reservoir and the top examples are identical (the seeded rule of
:mod:`actsparse.interpret.class_sampler`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from _ddp import requires_distributed, run_ranks
from torch import nn

from actsparse.interpret._observe import run_observers
from actsparse.interpret.overlap import ClassSampler
from actsparse.interpret.selectivity import SelectivityState
from actsparse.interpret.top_examples import TopExamples

pytestmark = requires_distributed

SAMPLES, BATCH, SPLIT = 120, 16, 56  # rank 0 takes samples [0, 56), rank 1 [56, 120)


def make_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(75, 12),
                         nn.ReLU())


def make_data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(SAMPLES, 1, 7, 7, generator=gen)
    labels = torch.randint(0, 3, (SAMPLES,), generator=gen)
    labels[SPLIT:][torch.rand(SAMPLES - SPLIT, generator=gen) < 0.3] = 3  # class 3: rank 1 only
    labels[::17] = -1  # unknown labels are skipped everywhere
    return x, labels


def batches(lo: int, hi: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    x, labels = make_data()
    return [(x[i:min(i + BATCH, hi)], labels[i:min(i + BATCH, hi)]) for i in range(lo, hi, BATCH)]


def measure(lo: int, hi: int) -> tuple[SelectivityState, ClassSampler, TopExamples]:
    states = SelectivityState(), ClassSampler(5, seed=3, keep_values=True), TopExamples(k=4)
    run_observers(make_net(), batches(lo, hi), list(states), start=lo)
    return states


def results(states: tuple[SelectivityState, ClassSampler, TopExamples]) -> dict[str, Any]:
    selectivity, sampler, top = states
    out: dict[str, Any] = {}
    for layer, sel in selectivity.compute().items():
        out[f"sel.{layer}"] = (sel.index, sel.class_means, sel.counts)
    for layer, overlap in sampler.overlaps().items():
        codes, labels, ids = sampler.codes(layer)
        out[f"overlap.{layer}"] = (codes, labels, ids, sampler.values(layer), overlap.matrix,
                                   torch.tensor([overlap.density, overlap.chance_rates]))
    for layer, best in top.compute().items():
        out[f"top.{layer}"] = (best.values, best.samples, best.positions)
    return out


def _worker(rank: int, out: str) -> None:
    lo, hi = (0, SPLIT) if rank == 0 else (SPLIT, SAMPLES)
    states = measure(lo, hi)
    for state in states:
        state.all_reduce()
    torch.save(results(states), Path(out) / f"rank{rank}.pt")


def test_two_ranks_with_all_reduce_equal_one_process(tmp_path: Path) -> None:
    run_ranks(_worker, str(tmp_path))
    expected = results(measure(0, SAMPLES))
    assert {key.split(".")[0] for key in expected} == {"sel", "overlap", "top"}
    assert expected["sel.1"][2].numel() == 4  # the class seen on rank 1 only is there
    for rank in range(2):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        assert set(got) == set(expected)
        for key, tensors in expected.items():
            exact = not key.startswith("sel.")  # selectivity sums come in another order
            for a, b in zip(got[key], tensors, strict=True):
                torch.testing.assert_close(a, b, rtol=0 if exact else 1e-12,
                                           atol=0 if exact else 1e-12, equal_nan=True,
                                           msg=f"rank {rank}, {key}: not equal to one process")
