"""Numbers and shapes as the report's tables show them: non-finite values print as '-'."""

from __future__ import annotations

import math

from actsparse.measure.layer import LayerProfile


def fmt(value: float | int | None, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals, integers as they are, and '-' for None, NaN and inf.

    Example:
        >>> fmt(0.12345), fmt(7), fmt(float("nan")), fmt(None)
        ('0.123', '7', '-', '-')
    """
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    number = float(value)
    return f"{number:.{digits}f}" if math.isfinite(number) else "-"


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
