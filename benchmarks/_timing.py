"""Shared benchmark helpers: interleaved repeated timing, medians, and JSON output."""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def interleaved(
    baseline: Callable[[], object], candidate: Callable[[], object], repeats: int, warmup: int = 1
) -> dict[str, Any]:
    """Time ``baseline`` and ``candidate`` alternately; the ratio is taken per repeat.

    Alternating within one run keeps both exposed to the same machine noise; the median ratio
    is the figure to quote.
    """
    for _ in range(warmup):
        baseline()
        candidate()
    base_s, cand_s = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        baseline()
        t1 = time.perf_counter()
        candidate()
        t2 = time.perf_counter()
        base_s.append(t1 - t0)
        cand_s.append(t2 - t1)
    ratios = [c / b for b, c in zip(base_s, cand_s, strict=True)]
    return {
        "baseline_s": base_s,
        "candidate_s": cand_s,
        "ratios": ratios,
        "median_baseline_s": statistics.median(base_s),
        "median_candidate_s": statistics.median(cand_s),
        "median_ratio": statistics.median(ratios),
    }


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "processor": platform.processor() or platform.machine(),
    }


def write_json(path: str | Path, payload: dict[str, Any]) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine(), **payload}, indent=2))
    print(f"wrote {out}")
    return out
