"""Mean and 95% CI over seeds: checked against scipy's Student t."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from actsparse.study.stats import summarize, t_quantile_975


@pytest.mark.parametrize("df", [1, 2, 3, 5, 10, 29, 30, 31, 40, 60, 120, 1000])
def test_t_quantile_matches_scipy(df: int) -> None:
    assert t_quantile_975(df) == pytest.approx(sps.t.ppf(0.975, df), abs=3e-6)


@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=40))
@settings(max_examples=60, deadline=None)
def test_interval_matches_scipy(values: list[float]) -> None:
    s = summarize(values)
    mean = sum(values) / len(values)
    sem = sps.sem(values)
    assert s.mean == pytest.approx(mean, abs=1e-9)
    if sem == 0 or not math.isfinite(sem):
        assert s.lo == pytest.approx(s.mean) and s.hi == pytest.approx(s.mean)
        return
    lo, hi = sps.t.interval(0.95, len(values) - 1, loc=mean, scale=sem)
    assert s.lo == pytest.approx(lo, rel=1e-4, abs=1e-6)
    assert s.hi == pytest.approx(hi, rel=1e-4, abs=1e-6)
    assert s.n == len(values)


def test_one_value_has_no_interval() -> None:
    s = summarize([0.99])
    assert (s.mean, s.lo, s.hi, s.sd, s.n) == (0.99, None, None, None, 1)
    assert s.to_dict()["lo"] is None
    assert "no CI" in s.text()


def test_text_shows_mean_and_half_width() -> None:
    assert summarize([1.0, 2.0, 3.0]).text(2) == "2.00 ± 2.48"


@pytest.mark.parametrize("bad", [[], [float("nan")], [1.0, float("inf")]])
def test_bad_values_are_refused(bad: list[float]) -> None:
    with pytest.raises(ValueError, match="empty|finite"):
        summarize(bad)


def test_bad_degrees_of_freedom() -> None:
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_quantile_975(0)
