"""The one number formatter of every page and table: missing and non-finite values print as
'-' (or what the caller asks), integers as they are, other numbers with a format spec."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

from actsparse.measure.layer import LayerProfile


def fmt(value: Any, spec: str = ".3f", missing: str = "-") -> str:
    """``value`` as a page shows it.

    None, NaN and inf print as ``missing``; booleans and integers (numpy's too) as they are;
    other real numbers with the format ``spec`` (``".3f"``: three decimals, ``".4g"``: four
    significant digits); lists and tuples item by item, joined by ", "; anything else as
    ``str``.

    Example:
        >>> fmt(0.12345), fmt(7), fmt(float("nan")), fmt(None)
        ('0.123', '7', '-', '-')
        >>> fmt(1234.5678, ".4g"), fmt(None, missing=""), fmt(["a", 2]), fmt("text")
        ('1235', '', 'a, 2', 'text')
    """
    if value is None:
        return missing
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Integral):  # int, numpy integers
        return str(int(value))
    if isinstance(value, Real):
        number = float(value)
        return format(number, spec) if math.isfinite(number) else missing
    if isinstance(value, list | tuple):
        return ", ".join(fmt(item, spec, missing) for item in value)
    return str(value)


def interval(mean: float, half_width: float | None, n: int, digits: int = 3,
             scale: float = 1.0) -> str:
    """A mean with the half-width of its confidence interval, both times ``scale``.

    Without an interval (one value) the count says why: ``'0.990 (n=1, no CI)'``.

    Example:
        >>> interval(0.99, 0.0248, 3), interval(0.99, None, 1), interval(0.9, 0.01, 3, 2, 100.0)
        ('0.990 ± 0.025', '0.990 (n=1, no CI)', '90.00 ± 1.00')
    """
    if half_width is None:
        return f"{mean * scale:.{digits}f} (n={n}, no CI)"
    return f"{mean * scale:.{digits}f} ± {half_width * scale:.{digits}f}"


def shape_text(layer: LayerProfile) -> str:
    """Units followed by the spatial shape, e.g. ``'8x10x10'`` for an 8-channel 10x10 map.

    Example:
        >>> import torch, actsparse
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU())
        >>> shape_text(actsparse.profile(net, [torch.randn(2, 1, 12, 12)])["1"])
        '8x10x10'
    """
    return "x".join(str(d) for d in (layer.units, *layer.spatial))


def union_sizes_shown(sizes: tuple[int, ...]) -> list[int]:
    """The batch-union sizes B > 1 of a config (B = 1 is the density itself).

    Example:
        >>> union_sizes_shown((1, 8, 64))
        [8, 64]
    """
    return [int(b) for b in sizes if int(b) > 1]
