"""Duty cycles under torch.distributed: two gloo ranks end equal to one process on all the data."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.distributed as dist
from _ddp import WORLD, requires_distributed, run_ranks
from torch import nn

from actsparse.induce.kwinners import KWinners, KWinners2d

pytestmark = requires_distributed
STEPS = 6


def make_layers() -> nn.ModuleDict:
    # a short period so that the running-average branch (T = period) is exercised too
    return nn.ModuleDict({
        "dense": KWinners(24, 0.25, boost_strength=2.0, duty_cycle_period=40),
        "global": KWinners2d(4, 0.1, boost_strength=2.0, duty_cycle_period=40),
        "local": KWinners2d(4, 0.5, local=True, boost_strength=2.0, duty_cycle_period=40),
    })


def global_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(100 + step)
    # 12 samples per step; the ranks take 5 and 7 of them (unequal shares)
    return torch.randn(12, 24, generator=gen), torch.randn(12, 4, 3, 3, generator=gen)


SHARES = {0: slice(0, 5), 1: slice(5, 12)}


def run(layers: nn.ModuleDict, share: slice) -> None:
    layers.train()
    for step in range(STEPS):
        dense, maps = global_batch(step)
        layers["dense"](dense[share])
        layers["global"](maps[share])
        layers["local"](maps[share])


def _worker(rank: int, out: str) -> None:
    calls = []
    real = dist.all_reduce

    def counting(tensor: torch.Tensor, *args: object, **kwargs: object) -> object:
        calls.append(tuple(tensor.shape))
        return real(tensor, *args, **kwargs)

    dist.all_reduce = counting  # type: ignore[assignment]
    layers = make_layers()
    run(layers, SHARES[rank])
    layers.eval()
    layers["dense"](global_batch(0)[0])  # inference: no all_reduce
    dist.all_reduce = real
    torch.save({k: v for k, v in layers.state_dict().items() if torch.is_tensor(v)},
               Path(out) / f"rank{rank}.pt")
    (Path(out) / f"rank{rank}.json").write_text(json.dumps({"calls": calls}))


def test_duty_cycles_equal_across_ranks_and_to_one_process(tmp_path: Path) -> None:
    run_ranks(_worker, str(tmp_path))
    single = make_layers()
    run(single, slice(0, 12))  # one process, the union of the data
    expected = {k: v for k, v in single.state_dict().items() if torch.is_tensor(v)}
    for rank in range(WORLD):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        assert set(got) == set(expected)
        for key, value in expected.items():
            assert torch.equal(got[key], value), (rank, key, got[key], value)
        calls = json.loads((tmp_path / f"rank{rank}.json").read_text())["calls"]
        # one all_reduce per training forward, on one flat tensor of (units + 1) counts
        assert calls == [[25], [5], [5]] * STEPS
    assert int(expected["dense.samples_seen"]) == 12 * STEPS
    assert (expected["global.duty_cycle"] > 0).any()
