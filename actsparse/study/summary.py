"""The study's numbers per variant: each metric read from every run, then mean and 95% CI.

A metric is read from a run's measurements (``measure.json``) by a small function; the
per-variant summaries are :class:`actsparse.study.stats.Summary` objects (mean and Student-t
interval over the seeds). Per-layer values (density, selectivity, overlap) and the noise curve
are summarised the same way, layer by layer and level by level.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from actsparse.study.stats import Summary, summarize

Run = Mapping[str, Any]


def _layer_mean(section: str, key: str) -> Callable[[Run], float | None]:
    def read(run: Run) -> float | None:
        values = [v.get(key) for v in (run.get(section) or {}).values()]
        values = [float(v) for v in values if v is not None]
        return statistics.fmean(values) if values else None
    return read


def read_path(*keys: str) -> Callable[[Run], float | None]:
    """A reader of ``run[k1][k2]...`` as a float (None where a key is missing or null).

    Example:
        >>> read_path("latency", "speedup")({"latency": {"speedup": 2}}), read_path("x")({})
        (2.0, None)
    """
    def read(run: Run) -> float | None:
        value: Any = run
        for key in keys:
            if not isinstance(value, Mapping) or value.get(key) is None:
                return None
            value = value[key]
        return float(value)
    return read


@dataclass(frozen=True)
class Metric:
    """A number read from every run: its name, how to read it, which way is better.

    Example:
        >>> METRICS["noise_score"].read({"noise_score": 104000})
        104000.0
        >>> METRICS["selectivity"].read({"selectivity": {"a": {"mean_index": 0.2},
        ...                                              "b": {"mean_index": 0.4}}})
        0.30000000000000004
    """

    name: str
    label: str
    read: Callable[[Run], float | None]
    higher_better: bool
    digits: int = 3
    scale: float = 1.0  # shown as value * scale (e.g. 100 for percent)
    unit: str = ""

    def text(self, s: Summary | None) -> str:
        """``mean ± half-width`` in the metric's display scale."""
        if s is None:
            return "-"
        return s.text(self.digits, self.scale) + self.unit


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("test_accuracy", "test accuracy (%)", read_path("test_accuracy"), True, 2, 100.0),
    Metric("gap", "train - test accuracy (points)", read_path("gap"), False, 2, 100.0),
    Metric("noise_score", "noise score", read_path("noise_score"), True, 0),
    Metric("mean_density", "mean density of hidden layers", read_path("mean_density"), False, 3),
    Metric("selectivity", "mean class selectivity", _layer_mean("selectivity", "mean_index"),
           True, 3),
    Metric("overlap_between", "between-class Jaccard", _layer_mean("overlap", "between"),
           False, 3),
    Metric("overlap_within", "within-class Jaccard", _layer_mean("overlap", "within"), True, 3),
    Metric("overlap_vs_chance", "between-class Jaccard / chance",
           _layer_mean("overlap", "between_over_chance"), False, 2),
    Metric("flops_ratio", "skip-zero FLOPs / dense FLOPs", read_path("flops", "ratio"), False, 3),
    Metric("params_after", "parameters after dead-unit pruning", read_path("params", "after"),
           False, 0),
    Metric("speedup_vs_dense", "batch-1 speedup vs dense reference",
           read_path("latency", "speedup_vs_dense"), True, 2, 1.0, "x"),
    Metric("speedup_vs_own", "batch-1 speedup of accelerate()",
           read_path("latency", "speedup_vs_own"), True, 2, 1.0, "x"),
    Metric("latency_us", "batch-1 latency after accelerate (us)",
           read_path("latency", "median_us", "accelerated"), False, 0),
)}


def metric_summary(runs: Sequence[Run], metric: Metric) -> Summary | None:
    """Mean and CI of ``metric`` over ``runs`` (runs without the value are left out).

    Example:
        >>> s = metric_summary([{"noise_score": 1.0}, {"noise_score": 3.0}, {}],
        ...                    METRICS["noise_score"])
        >>> s.mean, s.n
        (2.0, 2)
    """
    values = [v for v in (metric.read(r) for r in runs) if v is not None]
    return summarize(values) if values else None


def variant_summaries(runs: Mapping[str, Sequence[Run]],
                      metrics: Mapping[str, Metric] | None = None
                      ) -> dict[str, dict[str, Summary | None]]:
    """``{variant: {metric: Summary}}`` for every metric of ``metrics`` (default
    :data:`METRICS`, the image study's)."""
    table = METRICS if metrics is None else metrics
    return {v: {m.name: metric_summary(rs, m) for m in table.values()}
            for v, rs in runs.items()}


def layer_summaries(runs: Sequence[Run], section: str, key: str | None = None
                    ) -> dict[str, Summary]:
    """Per layer, the summary of ``run[section][layer]`` (or ``[layer][key]``) over runs.

    Example:
        >>> s = layer_summaries([{"density": {"act1": 0.1}}, {"density": {"act1": 0.3}}],
        ...                     "density")
        >>> round(s["act1"].mean, 3)
        0.2
    """
    values: dict[str, list[float]] = {}
    for run in runs:
        for layer, value in (run.get(section) or {}).items():
            v = value.get(key) if key is not None else value
            if v is not None:
                values.setdefault(layer, []).append(float(v))
    return {layer: summarize(vs) for layer, vs in values.items()}


def curve_summary(runs: Sequence[Run]) -> list[Summary]:
    """Per noise level, the summary of the accuracy (correct / test images) over runs.

    Example:
        >>> c = curve_summary([{"noise_curve": [90, 80], "test_images": 100}])
        >>> [s.mean for s in c]
        [0.9, 0.8]
    """
    curves = [[c / r["test_images"] for c in r["noise_curve"]] for r in runs
              if r.get("noise_curve")]
    if not curves:
        return []
    return [summarize(level) for level in zip(*curves, strict=True)]
