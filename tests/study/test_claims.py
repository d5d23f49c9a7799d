"""The claims table: every verdict follows the written rule from the numbers."""

from __future__ import annotations

import pytest

from actsparse.study.claims import CLAIMS, RULE, better, claims_table, verdict
from actsparse.study.stats import Summary, summarize
from actsparse.study.summary import METRICS
from actsparse.study.variants import VARIANTS


def s(*values: float) -> Summary:
    return summarize(list(values))


@pytest.mark.parametrize(("dense", "best", "higher", "expected"), [
    (s(1.0, 1.1, 1.2), s(2.0, 2.1, 2.2), True, "supported"),
    (s(1.0, 1.1, 1.2), s(2.0, 2.1, 2.2), False, "not supported"),  # lower is better: dense is
    (s(2.0, 2.1, 2.2), s(1.0, 1.1, 1.2), False, "supported"),
    (s(1.0, 2.0, 3.0), s(1.5, 2.5, 3.5), True, "inconclusive"),  # better mean, overlap
    (s(1.5, 2.5, 3.5), s(1.0, 2.0, 3.0), True, "not supported"),  # worse mean, overlap
    (s(2.0, 2.0, 2.0), s(2.0, 2.0, 2.0), True, "not supported"),  # equal: not better
    (s(1.0), s(9.0), True, "inconclusive"),  # one seed
    (s(1.0, 1.1), s(9.0), True, "inconclusive"),
    (None, s(1.0, 2.0), True, "inconclusive"),
])
def test_verdict_rule(dense: Summary | None, best: Summary | None, higher: bool,
                      expected: str) -> None:
    assert verdict(dense, best, higher)[0] == expected


def test_touching_intervals_do_not_count_as_separated() -> None:
    a, b = Summary(2.0, 1.0, 3.0, 1.0, 3), Summary(4.0, 3.0, 5.0, 1.0, 3)
    assert not better(b, a, True)
    assert verdict(a, b, True)[0] == "inconclusive"


def summaries(**metrics: dict[str, Summary]) -> dict[str, dict[str, Summary | None]]:
    out: dict[str, dict[str, Summary | None]] = {}
    for metric, by_variant in metrics.items():
        for variant, summary in by_variant.items():
            out.setdefault(variant, {})[metric] = summary
    return out


def test_the_best_sparse_variant_is_picked_and_dropout_is_not_sparse() -> None:
    table = summaries(noise_score={
        "dense": s(90, 91, 92), "dropout": s(200, 201, 202),  # dropout best, but a control
        "l1": s(95, 96, 97), "kwta": s(100, 101, 102)})
    sparse = [v.name for v in VARIANTS.values() if v.sparse]
    assert "dropout" not in sparse and "dense" not in sparse
    row = next(r for r in claims_table(table, sparse) if r["claim"] == "noise")
    assert (row["best"], row["verdict"]) == ("kwta", "supported")
    assert "kwta" in row["evidence"] and "dense" in row["evidence"]
    assert row["best_summary"]["mean"] == pytest.approx(101)


def test_lower_is_better_metrics() -> None:
    table = summaries(params_after={"dense": s(100, 101, 102), "l1": s(50, 51, 52),
                                    "kwta": s(80, 81, 82)})
    row = next(r for r in claims_table(table, ["l1", "kwta"]) if r["claim"] == "memory")
    assert (row["best"], row["verdict"]) == ("l1", "supported")


def test_every_claim_has_a_row_and_unmeasured_ones_are_inconclusive() -> None:
    rows = claims_table({"dense": {}}, ["kwta"])
    assert [r["claim"] for r in rows] == [c.key for c in CLAIMS]
    assert {r["verdict"] for r in rows} == {"inconclusive"}
    assert all(r["reason"] == "not measured" for r in rows)
    assert all(c.metric in METRICS for c in CLAIMS)


def test_the_rule_text_names_the_three_verdicts() -> None:
    for word in ("'supported'", "'not supported'", "'inconclusive'", "95%"):
        assert word in RULE


def test_claims_of_a_real_tiny_study(tiny_study: tuple) -> None:
    _, study = tiny_study
    rows = {r["claim"]: r for r in study["claims"]}
    assert set(rows) == {c.key for c in CLAIMS}
    summary = study["summary"]
    for row in rows.values():  # recompute each verdict from the stored summaries
        metric = METRICS[row["metric"]]
        dense = summary["dense"][metric.name]
        best = summary["kwta"][metric.name]  # the only sparse variant
        expected = verdict(Summary(**dense) if dense else None,
                           Summary(**best) if best else None, metric.higher_better)[0]
        assert row["verdict"] == expected
        assert row["best"] in (None, "kwta")
