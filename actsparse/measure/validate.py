"""Checks that a layer's state read from a file could have come from measuring (no edits).

Every count is a non-negative integer, and the counts agree with each other as measuring makes
them agree: ``active``, ``nan`` and ``inf`` are at most ``count``; the magnitude histogram holds
every value that is not NaN; the units' active counts add up to ``active``; both per-sample
histograms hold one entry per sample; a union is never larger than its slots.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from actsparse.measure.config import ProfileConfig

INTEGER_KEYS = ("count", "samples", "active", "nan", "inf", "hist", "sample_density_hist",
                "sample_hoyer_hist", "unit_active", "union_active", "union_slots")


def state_problem(state: dict[str, Tensor], units: int, config: ProfileConfig) -> str | None:
    """What is wrong with ``state`` (a layer of ``units`` units), or ``None`` if nothing.

    Example:
        >>> from actsparse.measure.state import new_state
        >>> cfg = ProfileConfig()
        >>> state = new_state(cfg, 3, ())
        >>> state_problem(state, 3, cfg) is None
        True
        >>> state["samples"] -= 5
        >>> state_problem(state, 3, cfg)
        'samples is negative (-5)'
    """
    expected = {"hist": (len(config.edges()) + 1,), "unit_active": (units,),
                "sample_density_hist": (config.sample_bins,),
                "sample_hoyer_hist": (config.sample_bins,),
                "union_active": (len(config.union_sizes),),
                "union_slots": (len(config.union_sizes),)}
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            return f"{key} has shape {tuple(state[key].shape)}, expected {shape}"
    for key in INTEGER_KEYS:
        value = state[key]
        if value.is_floating_point() and not bool((value == value.round()).all()):
            return f"{key} holds non-integer counts"
        if bool((value < 0).any()):
            return f"{key} is negative ({_show(value)})"
    if bool((state["spatial_active"] < 0).any()):
        return "spatial_active is negative"
    count, nan, active = int(state["count"]), int(state["nan"]), int(state["active"])
    samples = int(state["samples"])
    checks = [
        (active <= count, f"active ({active}) exceeds count ({count})"),
        (nan <= count, f"nan ({nan}) exceeds count ({count})"),
        (int(state["inf"]) <= count - nan, f"inf ({int(state['inf'])}) exceeds the non-NaN count"),
        (samples <= count or units == 0, f"samples ({samples}) exceeds count ({count})"),
        (int(state["hist"].sum()) == count - nan,
         f"the histogram holds {int(state['hist'].sum())} values, not count - nan = {count - nan}"),
        (int(state["unit_active"].sum()) == active,
         f"the units' active counts add up to {int(state['unit_active'].sum())}, not "
         f"active = {active}"),
        (int(state["sample_density_hist"].sum()) == samples,
         f"the per-sample density histogram holds {int(state['sample_density_hist'].sum())} "
         f"samples, not {samples}"),
        (int(state["sample_hoyer_hist"].sum()) == samples,
         f"the per-sample Hoyer histogram holds {int(state['sample_hoyer_hist'].sum())} "
         f"samples, not {samples}"),
        (bool((state["union_active"] <= state["union_slots"]).all()),
         "a union density count exceeds its slots"),
    ]
    for ok, message in checks:
        if not ok:
            return message
    for key in ("abs_sum", "sq_sum", "hoyer_sum", "treves_rolls_sum"):
        total = float(state[key])
        if not (math.isfinite(total) and total >= 0):
            return f"{key} must be finite and >= 0, got {total}"
    if not 0 <= float(state["hoyer_sum"]) <= samples * (1 + 1e-9):
        return f"hoyer_sum ({float(state['hoyer_sum'])}) is outside [0, samples]"
    if count > nan and float(state["min"]) > float(state["max"]):
        return f"min ({float(state['min'])}) exceeds max ({float(state['max'])})"
    return None


def _show(value: Tensor) -> str:
    return str(int(value)) if value.numel() == 1 else str(torch.as_tensor(value).tolist()[:8])
