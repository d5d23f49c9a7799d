"""Streaming, fixed-size, mergeable statistics of one layer's activations.

An activation tensor is read as (N samples, U units, S positions):
(N, D) and (B, T, D) -> units D, one sample per row or token; (N, C, H, W) -> units C, positions
H*W, one sample per image; (N, C, D, H, W) likewise. The state is a dict of tensors whose shapes
depend only on U, S and the config, never on the amount of data.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from actsparse.measure.config import ProfileConfig
from actsparse.measure.streaming import MAX, MIN, SUM
from actsparse.metrics import hoyer_from_norms, treves_rolls_from_norms

# How each state tensor combines across shards and ranks (declared on every LayerProfile; the
# fused kernel writes its outputs in this order).
REDUCTIONS: dict[str, str] = {
    "count": SUM, "samples": SUM, "active": SUM, "sum": SUM, "abs_sum": SUM, "sq_sum": SUM,
    "min": MIN, "max": MAX, "nan": SUM, "inf": SUM, "hist": SUM, "sample_density_hist": SUM,
    "sample_hoyer_hist": SUM, "hoyer_sum": SUM, "treves_rolls_sum": SUM, "unit_active": SUM,
    "spatial_active": SUM, "union_active": SUM, "union_slots": SUM,
}


def as_samples_units_positions(x: Tensor) -> tuple[Tensor, tuple[int, ...]]:
    """View ``x`` as (N, U, S) and return it with the spatial shape (``()`` if none).

    Example:
        >>> as_samples_units_positions(torch.zeros(2, 3, 4, 5))[0].shape
        torch.Size([2, 3, 20])
        >>> as_samples_units_positions(torch.zeros(2, 7, 16))[0].shape
        torch.Size([14, 16, 1])
    """
    if x.dim() == 0:
        raise ValueError("cannot profile a scalar activation")
    if x.dim() == 1:
        return x.reshape(1, x.shape[0], 1), ()
    if x.dim() == 2:
        return x.unsqueeze(-1), ()
    if x.dim() == 3:  # (batch, tokens, features); sizes spelled out, as -1 fails on 0 rows
        return x.reshape(x.shape[0] * x.shape[1], x.shape[2], 1), ()
    spatial = tuple(x.shape[2:])
    return x.reshape(x.shape[0], x.shape[1], math.prod(spatial)), spatial


def new_state(config: ProfileConfig, units: int, spatial: tuple[int, ...]) -> dict[str, Tensor]:
    """Zeroed state for a layer with ``units`` units and the given spatial shape."""
    i64, f64 = torch.int64, torch.float64
    n_union = len(config.union_sizes)
    positions = 1
    for s in spatial:
        positions *= s
    return {
        "count": torch.zeros((), dtype=i64),
        "samples": torch.zeros((), dtype=i64),
        "active": torch.zeros((), dtype=i64),
        "sum": torch.zeros((), dtype=f64),
        "abs_sum": torch.zeros((), dtype=f64),
        "sq_sum": torch.zeros((), dtype=f64),
        "min": torch.full((), float("inf"), dtype=f64),
        "max": torch.full((), float("-inf"), dtype=f64),
        "nan": torch.zeros((), dtype=i64),
        "inf": torch.zeros((), dtype=i64),
        "hist": torch.zeros(len(config.edges()) + 1, dtype=i64),
        "sample_density_hist": torch.zeros(config.sample_bins, dtype=i64),
        "sample_hoyer_hist": torch.zeros(config.sample_bins, dtype=i64),
        "hoyer_sum": torch.zeros((), dtype=f64),
        "treves_rolls_sum": torch.zeros((), dtype=f64),
        "unit_active": torch.zeros(units, dtype=i64),
        "spatial_active": torch.zeros(spatial if positions > 1 else (0,), dtype=i64),
        "union_active": torch.zeros(n_union, dtype=i64),
        "union_slots": torch.zeros(n_union, dtype=i64),
    }


def update_reference(
    state: dict[str, Tensor], x: Tensor, config: ProfileConfig, edges: Tensor
) -> None:
    """Add a batch of activations to ``state`` in place, with plain torch operations.

    This is the reference path: every fused kernel must produce the same state. An empty
    batch (0 rows: a mixture-of-experts expert routed no tokens) leaves the state as it is.
    """
    if x.numel() == 0:
        return
    xs, _ = as_samples_units_positions(x.detach().float())
    n, units, positions = xs.shape
    per_sample = units * positions
    flat = xs.reshape(n, per_sample)
    absx = flat.abs()
    active = ~(absx <= config.active_threshold) if config.active_threshold > 0 else flat != 0
    nonfinite = not bool(torch.isfinite(flat.sum()))
    if nonfinite:  # NaN counts as active, is left out of the histogram and of the sums;
        # Inf counts as active, falls in the overflow bin, and is left out of the sums.
        nans = torch.isnan(flat)
        n_nan = nans.sum()
        state["nan"] += n_nan
        state["inf"] += torch.isinf(flat).sum()
        absx = absx.masked_fill(nans, 0.0)
    hist = torch.bincount(
        torch.bucketize(absx, edges, right=True).reshape(-1), minlength=len(edges) + 1
    )
    if nonfinite:
        hist[0] -= n_nan
        absx = absx.masked_fill(torch.isinf(absx), 0.0)  # else the norms and Hoyer turn NaN
    state["hist"] += hist

    counts = active.sum(1)  # (N,)
    l1 = absx.sum(1, dtype=torch.float64)
    l2sq = absx.double().square().sum(1)  # squares in double: no overflow past 1.8e19
    finite = flat if not nonfinite else flat.nan_to_num(nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = torch.aminmax(finite)
    state["count"] += n * per_sample
    state["samples"] += n
    state["active"] += counts.sum()
    state["sum"] += finite.sum(dtype=torch.float64)
    state["abs_sum"] += l1.sum()
    state["sq_sum"] += l2sq.sum()
    state["min"] = torch.minimum(state["min"], lo.double())
    state["max"] = torch.maximum(state["max"], hi.double())

    sample_density = counts.double() / per_sample
    sample_hoyer = hoyer_from_norms(l1, l2sq.sqrt(), per_sample)
    state["sample_density_hist"] += _unit_interval_hist(sample_density, config.sample_bins)
    state["sample_hoyer_hist"] += _unit_interval_hist(sample_hoyer, config.sample_bins)
    state["hoyer_sum"] += sample_hoyer.sum()
    state["treves_rolls_sum"] += treves_rolls_from_norms(l1, l2sq, per_sample).sum()

    active3 = active.reshape(n, units, positions)
    state["unit_active"] += active3.sum((0, 2))
    if state["spatial_active"].numel() > 0:
        spatial_counts = active3.sum((0, 1), dtype=torch.float64).reshape(x.shape[2:])
        state["spatial_active"] += _to_shape(spatial_counts, state["spatial_active"].shape)
    for i, group in enumerate(config.union_sizes):
        groups = n // group
        if groups == 0:
            continue
        if group == 1:
            union = counts.sum()
        else:
            union = active[: groups * group].reshape(groups, group, per_sample).any(1).sum()
        state["union_active"][i] += union
        state["union_slots"][i] += groups * per_sample


def _unit_interval_hist(values: Tensor, bins: int) -> Tensor:
    index = (values.clamp(0.0, 1.0) * bins).long().clamp_max(bins - 1)
    return torch.bincount(index, minlength=bins)


def _to_shape(counts: Tensor, shape: torch.Size) -> Tensor:
    """Resample a spatial count map to the stored shape (varying input sizes); keep its sum."""
    if counts.shape == shape:
        return counts.round().long()
    resized = F.interpolate(counts[None, None].float(), size=tuple(shape), mode="area")[0, 0]
    resized = resized * (counts.sum() / resized.sum().clamp_min(1e-12))
    return resized.round().long()
