"""Profile.all_reduce across two gloo processes equals profiling all the data in one process."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from _ddp import WORLD, requires_distributed, run_ranks
from torch import nn

import actsparse
from actsparse.measure import Profile

pytestmark = requires_distributed


def make_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(108, 16), nn.GELU())


def make_batches() -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(7)
    return list(torch.randn(256, 1, 8, 8, generator=gen).split(64))  # 2 batches per rank


def _worker(rank: int, out: str) -> None:
    net = make_net()
    mine = make_batches()[rank::WORLD]
    prof = actsparse.profile(net, mine, inputs=True).all_reduce()
    prof.save(Path(out) / f"rank{rank}.safetensors")
    # Ranks that measured different layers must refuse, on every rank, with a clear error.
    layers = ["1"] if rank == 0 else ["4"]
    other = actsparse.profile(net, mine, layers=layers)
    try:
        other.all_reduce()
        error = ""
    except ValueError as err:
        error = str(err)
    (Path(out) / f"rank{rank}.json").write_text(json.dumps({"error": error}))


def test_all_reduce_equals_single_process(tmp_path: Path) -> None:
    run_ranks(_worker, str(tmp_path))
    expected = actsparse.profile(make_net(), make_batches(), inputs=True)
    for rank in range(WORLD):
        got = Profile.load(tmp_path / f"rank{rank}.safetensors")
        assert got.names == expected.names
        for a, b in zip(got, expected, strict=True):
            for key, value in b.state.items():
                if value.is_floating_point():
                    torch.testing.assert_close(a.state[key], value, rtol=1e-9, atol=1e-9)
                else:
                    assert torch.equal(a.state[key], value), (a.name, key)
        assert got["1"].density == expected["1"].density
        assert got["4"].union_density() == expected["4"].union_density()
        error = json.loads((tmp_path / f"rank{rank}.json").read_text())["error"]
        assert "ranks profiled different layers" in error


def test_all_reduce_without_process_group_is_identity() -> None:
    prof = actsparse.profile(make_net(), make_batches()[:1])
    before = {k: v.clone() for k, v in prof["1"].state.items()}
    assert prof.all_reduce() is prof
    assert all(torch.equal(before[k], prof["1"].state[k]) for k in before)
