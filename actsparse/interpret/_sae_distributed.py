"""Data-parallel SAE training under ``torch.distributed``: what the ranks must agree on.

Each rank trains on its own vectors with the same initialisation; per step the gradients are
averaged (each rank's loss is a mean over an equal batch, so the average is the gradient of the
whole batch) and a latent has fired if it fired on any rank. The input scale and ``b_pre`` come
from the union of the ranks' samples, and every rank must ask for the same steps and batch.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.distributed as dist
from torch import Tensor, nn


def world_size() -> int:
    """Ranks in the default process group (1 without one)."""
    if dist.is_available() and dist.is_initialized():
        return int(dist.get_world_size())
    return 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return int(dist.get_rank()) if world_size() > 1 else 0


def gather_rows(x: Tensor) -> Tensor:
    """Every rank's ``x`` ``(n_r, d)``, concatenated in rank order (on every rank)."""
    parts: list[Tensor | None] = [None] * world_size()
    dist.all_gather_object(parts, x.cpu())
    return torch.cat([p for p in parts if p is not None])


def same_on_all(value: int, what: str) -> int:
    """``value``, checked equal on every rank; every rank raises when they differ."""
    values: list[int | None] = [None] * world_size()
    dist.all_gather_object(values, value)
    if len(set(values)) > 1:
        raise ValueError(f"the ranks disagree on {what}: " + ", ".join(
            f"rank {r} has {v}" for r, v in enumerate(values)) + "; give every rank the same "
            "settings")
    return value


def average_grads(params: Iterable[nn.Parameter]) -> None:
    """Replace each gradient by its mean over the ranks (one flat all-reduce)."""
    grads = [p.grad for p in params if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def fired_anywhere(fired: Tensor) -> Tensor:
    """The bool mask of latents that fired on at least one rank."""
    counts = fired.to(torch.int32)
    dist.all_reduce(counts, op=dist.ReduceOp.MAX)
    return counts.bool()
