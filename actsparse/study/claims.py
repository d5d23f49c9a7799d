"""The claims table: for each claim about sparse representations, the evidence and a verdict.

Each claim names one metric (``actsparse.study.summary.METRICS``) and the verdict is computed
from the per-variant means and 95% confidence intervals by :data:`RULE`, never written by hand.
Only the sparse variants (L1, Hoyer, k-WTA, sparse coding) compete with ``dense``; dropout is
a control and is not counted as sparse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from actsparse.study.stats import Summary
from actsparse.study.summary import METRICS, Metric

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"

RULE = (
    "Take the sparse variant with the best mean on the claim's metric. 'supported': its 95% "
    "confidence interval (Student t over seeds) lies entirely on the better side of dense's "
    "interval (no overlap). 'not supported': dense's interval lies entirely on the better side "
    "of it, or its mean is not better than dense's mean. 'inconclusive': otherwise (better "
    "mean, overlapping intervals), and always with fewer than 2 seeds (no interval). Picking "
    "the best of several sparse variants favours the claim; a 'supported' verdict therefore "
    "names the variant that earned it."
)


@dataclass(frozen=True)
class Claim:
    """A claim, the metric that tests it, and what is shown beside it as evidence."""

    key: str
    text: str
    metric: str
    also: tuple[str, ...] = ()


CLAIMS: tuple[Claim, ...] = (
    Claim("computation", "Sparse activations cut computation: the sparse model runs faster",
          "speedup_vs_dense", ("flops_ratio", "latency_us")),
    Claim("memory", "Sparse activations cut memory: fewer parameters after removing dead units",
          "params_after", ("mean_density",)),
    Claim("generalisation", "Sparse representations generalise better", "test_accuracy",
          ("gap",)),
    Claim("noise", "Sparse representations resist noise (Numenta's noise score)",
          "noise_score", ("test_accuracy",)),
    Claim("interpretability", "Sparse units are easier to interpret (more class-selective)",
          "selectivity", ()),
    Claim("overlap", "Sparse representations of different classes overlap less",
          "overlap_between", ("overlap_within",)),
    Claim("overlap_beyond_chance", "...and less than their density alone explains "
          "(between-class Jaccard / that of random codes of the same density)",
          "overlap_vs_chance", ()),
)


def better(a: Summary, b: Summary, higher_better: bool) -> bool:
    """True when ``a``'s interval lies entirely on the better side of ``b``'s.

    Example:
        >>> from actsparse.study.stats import summarize
        >>> better(summarize([5, 5.1, 5.2]), summarize([1, 1.1, 1.2]), True)
        True
        >>> better(summarize([5.0]), summarize([1.0]), True)  # no interval with one seed
        False
    """
    if a.lo is None or a.hi is None or b.lo is None or b.hi is None:
        return False
    return a.lo > b.hi if higher_better else a.hi < b.lo


def verdict(dense: Summary | None, best: Summary | None, higher_better: bool) -> tuple[str, str]:
    """The verdict of :data:`RULE` for the best sparse variant against dense, and why.

    Example:
        >>> from actsparse.study.stats import summarize
        >>> verdict(summarize([1, 1.1, 1.2]), summarize([5, 5.1, 5.2]), True)[0]
        'supported'
        >>> verdict(summarize([1, 1.1, 1.2]), summarize([0.5, 0.6, 0.7]), True)[0]
        'not supported'
        >>> verdict(summarize([1, 2, 3]), summarize([1.5, 2.5, 3.5]), True)[0]
        'inconclusive'
        >>> verdict(summarize([1.0]), summarize([5.0]), True)[0]
        'inconclusive'
    """
    if dense is None or best is None:
        return INCONCLUSIVE, "not measured"
    if dense.n < 2 or best.n < 2:
        return INCONCLUSIVE, "fewer than 2 seeds: no confidence interval"
    if better(best, dense, higher_better):
        return SUPPORTED, "the intervals do not overlap, the sparse variant's is better"
    if better(dense, best, higher_better):
        return NOT_SUPPORTED, "the intervals do not overlap, dense's is better"
    ahead = best.mean > dense.mean if higher_better else best.mean < dense.mean
    if not ahead:
        return NOT_SUPPORTED, "no sparse variant has a better mean than dense"
    return INCONCLUSIVE, "better mean, but the intervals overlap"


def best_variant(summaries: Mapping[str, Mapping[str, Summary | None]], sparse: list[str],
                 metric: Metric) -> str | None:
    """The sparse variant with the best mean on ``metric`` (None when none was measured).

    Example:
        >>> from actsparse.study.stats import summarize
        >>> s = {"l1": {"noise_score": summarize([3.0])}, "kwta": {"noise_score": summarize([4.0])}}
        >>> best_variant(s, ["l1", "kwta"], METRICS["noise_score"])
        'kwta'
    """
    scored = [(s.mean, v) for v in sparse
              if (s := summaries.get(v, {}).get(metric.name)) is not None]
    if not scored:
        return None
    pick = max(scored) if metric.higher_better else min(scored)
    return pick[1]


def claims_table(summaries: Mapping[str, Mapping[str, Summary | None]], sparse: list[str],
                 baseline: str = "dense", *, claims: Sequence[Claim] = CLAIMS,
                 metrics: Mapping[str, Metric] = METRICS) -> list[dict[str, Any]]:
    """One row per claim: the metric, dense's and the best sparse variant's summaries, every
    sparse variant's summary, the other evidence, and the verdict with its reason.

    ``claims`` and ``metrics`` default to the image study's; another workload (the
    recommender's, :mod:`actsparse.study.recsys_claims`) passes its own.

    Example:
        >>> from actsparse.study.stats import summarize
        >>> s = {"dense": {"noise_score": summarize([90.0, 91, 92])},
        ...      "kwta": {"noise_score": summarize([100.0, 101, 102])}}
        >>> row = [r for r in claims_table(s, ["kwta"]) if r["claim"] == "noise"][0]
        >>> row["best"], row["verdict"]
        ('kwta', 'supported')
    """
    rows = []
    for claim in claims:
        metric = metrics[claim.metric]
        best = best_variant(summaries, sparse, metric)
        dense = summaries.get(baseline, {}).get(metric.name)
        best_s = summaries.get(best, {}).get(metric.name) if best is not None else None
        outcome, reason = verdict(dense, best_s, metric.higher_better)
        rows.append({
            "claim": claim.key,
            "text": claim.text,
            "metric": metric.name,
            "metric_label": metric.label,
            "higher_better": metric.higher_better,
            "dense": _dict(dense),
            "best": best,
            "best_summary": _dict(best_s),
            "sparse": {v: _dict(summaries.get(v, {}).get(metric.name)) for v in sparse},
            "evidence": _evidence(claim, summaries, baseline, best, metrics),
            "verdict": outcome,
            "reason": reason,
        })
    return rows


def _dict(s: Summary | None) -> dict[str, Any] | None:
    return s.to_dict() if s is not None else None


def _evidence(claim: Claim, summaries: Mapping[str, Mapping[str, Summary | None]],
              baseline: str, best: str | None, metrics: Mapping[str, Metric]) -> str:
    """A sentence of numbers: the metric and the related ones, dense against the best."""
    parts = []
    for name in (claim.metric, *claim.also):
        metric = metrics[name]
        dense = metric.text(summaries.get(baseline, {}).get(name))
        text = f"{metric.label}: dense {dense}"
        if best is not None:
            text += f", {best} {metric.text(summaries.get(best, {}).get(name))}"
        parts.append(text)
    return "; ".join(parts)
