"""Mean and 95% confidence interval over seeds, with Student's t.

The interval of the mean of ``n`` values is ``mean ± t(0.975, n-1) * sd / sqrt(n)``, ``sd`` the
sample standard deviation (``n - 1`` in the denominator). With one value there is no spread to
estimate, so there is no interval: ``lo`` and ``hi`` are None (null in JSON) and every
comparison that needs an interval says "inconclusive".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from actsparse.report.format import interval

# t(0.975, df) for df = 1..30 (two-sided 95%, 6 decimals); beyond, a Cornish-Fisher series
# (within 2e-6 of the exact value).
_T975 = (12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004,
         2.262157, 2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905,
         2.109816, 2.100922, 2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899,
         2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272)
_Z975 = 1.959963984540054


def t_quantile_975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (to about 1e-6).

    Example:
        >>> t_quantile_975(2), round(t_quantile_975(1000), 3)
        (4.302653, 1.962)
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975  # Cornish-Fisher expansion of t around the normal quantile
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


@dataclass(frozen=True)
class Summary:
    """Mean of ``n`` values with its 95% confidence interval ``[lo, hi]`` (None when n < 2).

    Example:
        >>> s = summarize([0.98, 0.99, 1.0])
        >>> round(s.mean, 3), round(s.lo, 4), round(s.hi, 4), s.n
        (0.99, 0.9652, 1.0148, 3)
        >>> summarize([0.5]).lo is None
        True
    """

    mean: float
    lo: float | None
    hi: float | None
    sd: float | None
    n: int

    @property
    def half_width(self) -> float | None:
        return None if self.hi is None else self.hi - self.mean

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self, digits: int = 3, scale: float = 1.0) -> str:
        """``mean ± half-width`` (``mean (n=1, no CI)`` for one value), as pages show it."""
        return interval(self.mean, self.half_width, self.n, digits, scale)


def summarize(values: Sequence[float]) -> Summary:
    """Mean and 95% t-interval of ``values`` (finite numbers, at least one).

    Raises ValueError for an empty list or a non-finite value.

    Example:
        >>> summarize([1.0, 1.0]).to_dict()
        {'mean': 1.0, 'lo': 1.0, 'hi': 1.0, 'sd': 0.0, 'n': 2}
    """
    xs = [float(v) for v in values]
    if not xs:
        raise ValueError("cannot summarise an empty list of values")
    if not all(math.isfinite(x) for x in xs):
        raise ValueError(f"values must be finite numbers, got {xs}")
    n = len(xs)
    mean = math.fsum(xs) / n
    if n < 2:
        return Summary(mean, None, None, None, n)
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile_975(n - 1) * sd / math.sqrt(n)
    return Summary(mean, mean - half, mean + half, sd, n)
