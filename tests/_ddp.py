"""One harness for tests that run code on several processes joined in a gloo process group.

``run_ranks(worker, *args)`` spawns ``WORLD`` processes; each sets one thread, joins a gloo
group on a free local port, runs ``worker(rank, *args)`` and leaves the group, even when the
worker raises. A worker must be a module-level function (spawn pickles it by name); it reports
back through files (e.g. under ``tmp_path``). A worker's exception fails the test with its
traceback; workers still running after ``timeout_s`` are killed and the test fails.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

WORLD = 2

requires_distributed = pytest.mark.skipif(not dist.is_available(),
                                          reason="torch.distributed unavailable")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_ranks(worker: Callable[..., None], *args: Any, world: int = WORLD,
              timeout_s: float = 120.0) -> None:
    """Run ``worker(rank, *args)`` on ``world`` spawned gloo ranks and wait for all of them."""
    ctx = mp.start_processes(_rank_main, args=(worker, free_port(), world, args), nprocs=world,
                             join=False, start_method="spawn")
    deadline = time.monotonic() + timeout_s
    while not ctx.join(timeout=1):
        if time.monotonic() > deadline:
            for process in ctx.processes:
                process.kill()
            pytest.fail(f"the {world} gloo workers did not finish within {timeout_s:.0f} s")


def _rank_main(rank: int, worker: Callable[..., None], port: int, world: int,
               args: tuple[Any, ...]) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world, timeout=timedelta(seconds=60))
    try:
        worker(rank, *args)
        dist.barrier()  # no rank tears the group down while another is still in a collective
    finally:
        dist.destroy_process_group()
