"""The one number formatter of the pages, and the interval text the study's tables show."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from actsparse.report.format import fmt, interval
from actsparse.study.stats import summarize


@pytest.mark.parametrize(("value", "spec", "missing", "text"), [
    (0.12345, ".3f", "-", "0.123"),
    (0.12345, ".4g", "-", "0.1235"),
    (1234.5678, ".4g", "-", "1235"),
    (7, ".3f", "-", "7"),
    (True, ".3f", "-", "True"),
    (np.float64(0.5), ".3f", "-", "0.500"),
    (np.float32(0.25), ".2f", "-", "0.25"),
    (np.int64(3), ".3f", "-", "3"),
    (None, ".3f", "-", "-"),
    (None, ".4g", "", ""),
    (math.nan, ".3f", "-", "-"),
    (-math.inf, ".4g", "", ""),
    (["fc1", 0.5, None], ".2f", "-", "fc1, 0.50, -"),
    ((), ".3f", "-", ""),
    ("text", ".3f", "-", "text"),
])
def test_fmt(value: Any, spec: str, missing: str, text: str) -> None:
    assert fmt(value, spec, missing) == text


@pytest.mark.parametrize("values", [[0.98, 0.99, 1.0], [0.5], [3.0, 1.0], [1e-3, 2e-3, 4e-3, 0.0]])
@pytest.mark.parametrize(("digits", "scale"), [(3, 1.0), (2, 100.0), (0, 1.0)])
def test_interval_is_the_studys_summary_text(values: list[float], digits: int,
                                             scale: float) -> None:
    s = summarize(values)
    text = interval(s.mean, s.half_width, s.n, digits, scale)
    assert text == s.text(digits, scale)
    if s.half_width is None:
        assert text == f"{s.mean * scale:.{digits}f} (n=1, no CI)"
    else:
        mean, half = text.split(" ± ")
        assert float(mean) == pytest.approx(s.mean * scale, abs=10.0 ** -digits)
        assert float(half) == pytest.approx((s.hi - s.mean) * scale, abs=10.0 ** -digits)
