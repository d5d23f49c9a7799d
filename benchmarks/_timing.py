"""Benchmark helpers, a thin layer over :mod:`actsparse._timing` and :mod:`actsparse._jsonio`.

``interleaved`` times a baseline and a candidate alternately (the library's interleaved timer)
and returns the per-repeat seconds and ratios as a dict for the JSON; ``write_json`` adds where
and when it was measured (:func:`actsparse._timing.machine`: date, CPU model, threads, versions)
and writes strict JSON (NaN -> null) atomically.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actsparse import _jsonio
from actsparse._timing import interleaved as _interleaved
from actsparse._timing import machine


def interleaved(
    baseline: Callable[[], object], candidate: Callable[[], object], repeats: int, warmup: int = 1
) -> dict[str, Any]:
    """Time ``baseline`` and ``candidate`` alternately; ``ratios`` are candidate / baseline per
    repeat, and their median is the figure to quote."""
    base_s, cand_s = (list(s) for s in _interleaved([baseline, candidate], repeats, warmup).seconds)
    ratios = [c / b for b, c in zip(base_s, cand_s, strict=True)]
    return {
        "baseline_s": base_s,
        "candidate_s": cand_s,
        "ratios": ratios,
        "median_baseline_s": statistics.median(base_s),
        "median_candidate_s": statistics.median(cand_s),
        "median_ratio": statistics.median(ratios),
    }


def write_json(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``{"machine": machine(), **payload}`` to ``path`` as strict JSON; print the path."""
    out = _jsonio.write_json(path, {"machine": machine(), **payload})
    print(f"wrote {out}")
    return out
