"""How likely a random sparse code matches a stored pattern, and how much random codes overlap.

:func:`false_match_probability` is Ahmad & Scheinkman's (2019, "How Can We Be So Dense?")
probability that a random code with ``a`` of ``n`` units active matches a stored pattern of
``s`` units in at least ``theta`` of them; :func:`random_jaccard` is the expected Jaccard index
of two random codes, the chance level of :class:`actsparse.interpret.overlap.Overlap`.
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction
from typing import Any

import torch
from torch import Tensor


def _whole(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None


def _check_nast(n: Any, a: Any, s: Any, theta: Any) -> tuple[int, int, int, int]:
    n, a, s, theta = (_whole(k, v) for k, v in (("n", n), ("a", a), ("s", s), ("theta", theta)))
    if n < 1:
        raise ValueError(f"n (units) must be >= 1, got {n}")
    if not 0 <= a <= n:
        raise ValueError(f"a (active units of the random code) must be in [0, n={n}], got {a}")
    if not 0 <= s <= n:
        raise ValueError(f"s (units of the stored pattern) must be in [0, n={n}], got {s}")
    if theta < 0:
        raise ValueError(f"theta (match threshold) must be >= 0, got {theta}")
    return n, a, s, theta


def _match_counts(n: int, a: int, s: int, theta: int) -> tuple[int, int]:
    """``sum_{b=theta}^{s} C(s, b) C(n-s, a-b)`` and ``C(n, a)``, exact integers."""
    top = min(s, a)
    num = sum(math.comb(s, b) * math.comb(n - s, a - b) for b in range(theta, top + 1))
    return num, math.comb(n, a)


def false_match_probability(n: int, a: int, s: int, theta: int) -> float:
    """P(a random code of ``a`` active out of ``n`` units shares >= ``theta`` with ``s`` units).

    Ahmad & Scheinkman (2019), eq. 3: ``P = sum_{b=theta}^{s} |Omega(n, a, b)| / C(n, a)`` with
    ``|Omega(n, a, b)| = C(s, b) C(n - s, a - b)`` the codes overlapping the pattern in exactly
    ``b`` units. Computed with exact integers and rounded once to float (so a probability
    below ~1e-308 is 0.0; :func:`log_false_match_probability` keeps it).

    Example:
        >>> false_match_probability(4, 2, 2, 1)  # 5 of the C(4, 2) = 6 pairs share a unit
        0.8333333333333334
        >>> false_match_probability(1024, 32, 32, 16) < 1e-15
        True
        >>> false_match_probability(10, 3, 2, 3), false_match_probability(10, 3, 2, 0)
        (0.0, 1.0)
    """
    n, a, s, theta = _check_nast(n, a, s, theta)
    num, den = _match_counts(n, a, s, theta)
    return float(Fraction(num, den))


def log_false_match_probability(n: int, a: int, s: int, theta: int) -> float:
    """The natural log of :func:`false_match_probability`, exact before the log (-inf for 0).

    Example:
        >>> round(log_false_match_probability(100000, 2000, 2000, 400), 1)  # P ~ 1e-276
        -635.9
    """
    n, a, s, theta = _check_nast(n, a, s, theta)
    num, den = _match_counts(n, a, s, theta)
    return math.log(num) - math.log(den) if num else float("-inf")


def false_match_curve(n: int, a: int, s: int) -> list[float]:
    """:func:`false_match_probability` for every ``theta`` in ``0 .. min(a, s)``, in one pass.

    Example:
        >>> [round(p, 4) for p in false_match_curve(4, 2, 2)]
        [1.0, 0.8333, 0.1667]
    """
    n, a, s, _ = _check_nast(n, a, s, 0)
    den = math.comb(n, a)
    terms = [math.comb(s, b) * math.comb(n - s, a - b) for b in range(min(s, a) + 1)]
    out, tail = [], 0
    for term in reversed(terms):
        tail += term
        out.append(float(Fraction(tail, den)))
    return out[::-1]


def random_jaccard(n: int, k: int) -> float:
    """Expected Jaccard index of two independent uniformly random ``k``-of-``n`` codes.

    The overlap ``b`` is hypergeometric; ``E[b / (2k - b)]`` is summed exactly over ``b`` (in
    log space). About ``d / (2 - d)`` with ``d = k / n``; NaN for ``k = 0``.

    Example:
        >>> round(random_jaccard(4, 2), 12)  # overlap 0 (1/6), 1 (4/6, J=1/3), 2 (1/6, J=1)
        0.388888888889
        >>> round(random_jaccard(10000, 100), 5)  # d / (2 - d) = 0.00503
        0.00505
    """
    n, k, _, _ = _check_nast(n, k, k, 0)
    if k == 0:
        return float("nan")
    b = torch.arange(max(0, 2 * k - n), k + 1, dtype=torch.float64)

    def log_comb(top: float, bottom: Tensor) -> Tensor:
        return (math.lgamma(top + 1) - torch.lgamma(bottom + 1)
                - torch.lgamma(top - bottom + 1))

    kk = torch.tensor(float(k), dtype=torch.float64)
    log_p = log_comb(k, b) + log_comb(n - k, k - b) - log_comb(n, kk)
    return float((log_p.exp() * b / (2 * k - b)).sum())
