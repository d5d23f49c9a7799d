"""The recommender study's variants, metrics and claims fit the shared claims machinery."""

from __future__ import annotations

import pytest

from actsparse.study.claims import claims_table
from actsparse.study.recsys_claims import (
    RECSYS_CLAIMS,
    RECSYS_METRICS,
    RECSYS_VARIANTS,
    recsys_spec_available,
)
from actsparse.study.stats import summarize
from actsparse.study.variants import select_variants


def test_every_variant_trains_and_every_claim_names_known_metrics() -> None:
    assert all(recsys_spec_available(v.spec) is None for v in RECSYS_VARIANTS.values())
    for claim in RECSYS_CLAIMS:
        assert claim.metric in RECSYS_METRICS and set(claim.also) <= set(RECSYS_METRICS)


def test_dropout_is_a_control_and_dense_the_baseline() -> None:
    assert not RECSYS_VARIANTS["dropout"].sparse and not RECSYS_VARIANTS["dense"].sparse
    assert RECSYS_VARIANTS["kwta"].sparse and RECSYS_VARIANTS["dense"].spec == "none"


def test_select_variants_with_the_recsys_table() -> None:
    chosen, skipped = select_variants(["kwta", "dense"], table=RECSYS_VARIANTS,
                                      available=recsys_spec_available)
    assert [v.name for v in chosen] == ["dense", "kwta"] and skipped == {}
    with pytest.raises(ValueError, match="unknown variant"):
        select_variants(["dense", "hoyer"], table=RECSYS_VARIANTS)


def test_topk_larger_than_the_code_is_refused() -> None:
    assert "larger than the code" in recsys_spec_available("topk:601")


def test_the_claims_table_reads_recsys_metrics_in_their_direction() -> None:
    runs = {"dense": [0.90, 0.91, 0.92], "kwta": [0.10, 0.11, 0.12]}
    summaries = {v: {"code_bytes_ratio": summarize(xs), "ndcg@20": summarize(xs)}
                 for v, xs in runs.items()}
    rows = {r["claim"]: r for r in claims_table(summaries, ["kwta"], claims=RECSYS_CLAIMS,
                                                metrics=RECSYS_METRICS)}
    assert [c.key for c in RECSYS_CLAIMS] == list(rows)
    assert rows["memory"]["verdict"] == "supported"  # fewer bytes is better
    assert rows["accuracy"]["verdict"] == "not supported"  # a lower NDCG is worse
    assert rows["robustness"]["verdict"] == "inconclusive"  # not measured
    assert "test NDCG@20: dense" in rows["accuracy"]["evidence"]
