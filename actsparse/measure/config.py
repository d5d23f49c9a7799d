"""What a profile measures: thresholds, histogram bins and batch-union sizes, fixed up front."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import Tensor


@dataclass(frozen=True)
class ProfileConfig:
    """Settings shared by every layer of a profile; two profiles merge only if they are equal.

    Example:
        >>> cfg = ProfileConfig()
        >>> cfg.near_zero, cfg.union_sizes
        ((0.001, 0.01, 0.1), (1, 8, 64))
        >>> len(cfg.edges())
        418
    """

    near_zero: tuple[float, ...] = (1e-3, 1e-2, 1e-1)  # powers of ten are exact histogram edges
    union_sizes: tuple[int, ...] = (1, 8, 64)  # B in the batch-union density; B=1 is the density
    active_threshold: float = 0.0  # a unit is active when |a| > this (0: when a != 0)
    min_decade: int = -8  # |a| histogram: log-spaced bins from 1e-8 ...
    max_decade: int = 5  # ... to 1e5, plus an exact-zero bin, an underflow and an overflow bin
    bins_per_decade: int = 32  # 7.5% relative bin width: quantiles read to within that
    sample_bins: int = 50  # bins of the per-sample density and Hoyer distributions

    def __post_init__(self) -> None:
        if self.active_threshold < 0:
            raise ValueError(f"active_threshold must be >= 0, got {self.active_threshold}")
        if not self.union_sizes or any(int(b) < 1 for b in self.union_sizes):
            raise ValueError(f"union_sizes must be positive integers, got {self.union_sizes}")
        lo, hi = 10.0**self.min_decade, 10.0**self.max_decade
        if any(not lo <= t <= hi for t in self.near_zero):
            raise ValueError(f"near_zero thresholds must lie in [{lo:g}, {hi:g}]: {self.near_zero}")
        if self.max_decade <= self.min_decade or self.bins_per_decade < 1 or self.sample_bins < 1:
            raise ValueError("histogram settings must give at least one bin")

    def edges(self) -> Tensor:
        """Histogram edges of |a|: bin 0 holds exact zeros, bin i holds [edges[i-1], edges[i])."""
        n = (self.max_decade - self.min_decade) * self.bins_per_decade + 1
        logs = torch.linspace(self.min_decade, self.max_decade, n, dtype=torch.float64)
        tiny = torch.tensor([1e-45], dtype=torch.float64)  # the smallest float32 subnormal
        return torch.cat([tiny, 10.0**logs]).float()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProfileConfig:
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        return cls(**values)


def config_difference(a: ProfileConfig, b: ProfileConfig) -> str:
    """Say which settings differ between two configs, for merge errors.

    Example:
        >>> config_difference(ProfileConfig(), ProfileConfig(union_sizes=(1, 4)))
        'measured with different ProfileConfig: union_sizes (1, 8, 64) vs (1, 4)'
    """
    diff = [
        f"{f.name} {getattr(a, f.name)} vs {getattr(b, f.name)}"
        for f in fields(a)
        if getattr(a, f.name) != getattr(b, f.name)
    ]
    return "measured with different ProfileConfig: " + "; ".join(diff)
