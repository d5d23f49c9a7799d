"""One layer's measured state and the numbers read from it (a :class:`StreamingState`)."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from actsparse.measure.config import ProfileConfig, config_difference
from actsparse.measure.state import REDUCTIONS, _to_shape, new_state
from actsparse.measure.streaming import StreamingState
from actsparse.measure.update import update_state
from actsparse.metrics import gini_from_histogram


@dataclass
class LayerProfile(StreamingState):
    """Streaming statistics of one layer (a module's output, or its input when ``on_input``).

    ``units`` is the size of the unit axis (features, or channels of a conv map) and
    ``spatial`` the shape of the positions axis (``()`` for dense layers). The tensors of
    ``state`` are declared with their reductions (:data:`actsparse.measure.state.REDUCTIONS`),
    so ``update``, ``merge``, ``all_reduce``, ``reset`` and ``compute`` follow
    :class:`~actsparse.measure.streaming.StreamingState`.

    Example:
        >>> cfg = ProfileConfig()
        >>> a = LayerProfile("fc", False, 3, (), cfg, new_state(cfg, 3, ()))
        >>> a.update(torch.tensor([[0.0, 1.0, 2.0]]))
        >>> b = a.merge(a)
        >>> b.samples, b.density, a.reset().samples
        (2, 0.6666666666666666, 0)
    """

    name: str
    on_input: bool
    units: int
    spatial: tuple[int, ...]
    config: ProfileConfig
    state: dict[str, Tensor] = field(repr=False)

    def __post_init__(self) -> None:
        defaults = new_state(self.config, self.units, self.spatial)
        for key, how in REDUCTIONS.items():
            self.declare(key, defaults[key], how)

    def update(self, x: Tensor) -> None:
        """Add a batch of this layer's activations (the fused kernel on CPU, else torch)."""
        with torch.no_grad():
            update_state(self.state, x, self.config, self.config.edges())

    def compute(self) -> dict[str, Any]:
        """The numbers of :meth:`summary`."""
        return self.summary()

    # -- raw counts ---------------------------------------------------------------------------
    @property
    def samples(self) -> int:
        return int(self.state["samples"])

    @property
    def elements(self) -> int:
        return int(self.state["count"])

    @property
    def density(self) -> float:
        """Fraction of activations that are active (``!= 0``, or ``|a| >`` the threshold)."""
        return _ratio(self.state["active"], self.state["count"])

    @property
    def zero_fraction(self) -> float:
        """Fraction of exact zeros among non-NaN activations."""
        return _ratio(self.state["hist"][0], self.state["count"] - self.state["nan"])

    def firing_rate(self) -> Tensor:
        """Per-unit fraction of (sample, position) pairs where the unit is active: (U,)."""
        per_unit = self.elements // max(self.units, 1)
        return self.state["unit_active"].double() / max(per_unit, 1)

    def dead_units(self) -> Tensor:
        """Indices of units never active on the data seen."""
        return torch.nonzero(self.state["unit_active"] == 0).flatten()

    def spatial_map(self) -> Tensor | None:
        """Per-position firing rate averaged over samples and channels, shaped like ``spatial``."""
        counts = self.state["spatial_active"]
        if counts.numel() == 0:
            return None
        return counts.double() / max(self.samples * self.units, 1)

    def union_density(self) -> dict[int, float]:
        """Density of the union of active units over groups of B consecutive samples."""
        return {
            b: _ratio(self.state["union_active"][i], self.state["union_slots"][i])
            for i, b in enumerate(self.config.union_sizes)
        }

    # -- read from the |a| histogram ------------------------------------------------------------
    def near_zero(self, threshold: float) -> float:
        """Fraction of non-NaN activations with ``|a| < threshold``.

        Exact when ``threshold`` is a histogram edge (any power of ten in range), otherwise
        interpolated log-linearly inside its bin.
        """
        edges = self.config.edges().tolist()
        hist = self.state["hist"].double()
        total = float(hist.sum())
        if total == 0:
            return float("nan")
        t = float(torch.tensor(threshold, dtype=torch.float32))
        k = bisect.bisect_right(edges, t)  # bins 0..k-1 lie entirely below t
        below = float(hist[:k].sum())
        if 0 < k < len(edges) and t > edges[k - 1]:
            lo, hi = edges[k - 1], edges[k]
            below += float(hist[k]) * math.log(t / lo) / math.log(hi / lo)
        return below / total

    def quantile(self, q: float) -> float:
        """The ``q``-quantile of ``|a|``, read from the histogram (within one bin, 7.5%).

        ``quantile(1 - d)`` is the magnitude threshold that leaves a density of about ``d``.
        """
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q must be in [0, 1], got {q}")
        hist = self.state["hist"].double()
        total = float(hist.sum())
        if total == 0:
            return float("nan")
        edges = self.config.edges().tolist()
        cum = hist.cumsum(0).tolist()
        target = q * total
        i = bisect.bisect_left(cum, target)
        if i == 0:
            return 0.0
        i = min(i, len(cum) - 1)
        before = cum[i - 1]
        frac = (target - before) / max(cum[i] - before, 1e-300)
        if i >= len(edges):
            return edges[-1]
        lo, hi = edges[i - 1], edges[i]
        return float(lo * (hi / lo) ** frac)

    def gini(self) -> float:
        """Gini index of all finite ``|a|`` of the layer, from the histogram (at bin centres)."""
        edges = self.config.edges().double()
        centres = torch.cat([torch.zeros(1, dtype=torch.float64), (edges[:-1] * edges[1:]).sqrt()])
        top = max(abs(float(self.state["min"])), abs(float(self.state["max"])), float(edges[-1]))
        values = torch.cat([centres, torch.tensor([top if math.isfinite(top) else 1e5])])
        counts = self.state["hist"].clone()
        counts[-1] -= self.state["inf"]  # Inf sits in the overflow bin; Gini is of finite values
        return gini_from_histogram(counts, values.double())

    # -- combining (merge and all_reduce come from StreamingState) -----------------------------
    def _check_compatible(self, other: Any) -> None:
        if (self.name, self.units, self.on_input) != (other.name, other.units, other.on_input):
            raise ValueError(
                f"cannot merge layer {self.name!r} ({self.units} units) with layer "
                f"{other.name!r} ({other.units} units)"
            )
        if self.config != other.config:
            raise ValueError(
                f"cannot merge layer {self.name!r}: {config_difference(self.config, other.config)}"
            )

    def _common_shape(self, name: str, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
        # Varying input sizes give spatial maps of other sizes: resample to the first one.
        if name == "spatial_active" and all(math.prod(s) > 0 for s in shapes):
            return shapes[0]
        return super()._common_shape(name, shapes)

    def _aligned(self, name: str, tensor: Tensor, shape: tuple[int, ...]) -> Tensor:
        if name == "spatial_active" and tuple(tensor.shape) != shape:
            return _to_shape(tensor.double(), torch.Size(shape))
        return super()._aligned(name, tensor, shape)

    def summary(self) -> dict[str, Any]:
        """The JSON-ready numbers of this layer (one entry of ``profile.json``).

        NaN activations count as active and as 0 in the per-sample Hoyer and Treves-Rolls
        values; a layer with no values but NaN (or none at all) reports ``hoyer``, ``gini``
        and ``treves_rolls`` as NaN (``null`` in JSON), not as the 1.0 of an all-zero layer.
        """
        s = self.state
        count = max(int(s["count"]) - int(s["nan"]), 1)
        mean = float(s["sum"]) / count
        var = max(float(s["sq_sum"]) / count - mean * mean, 0.0)
        rate = self.firing_rate()
        samples = max(self.samples, 1)
        # Every value NaN: nothing is known of the magnitudes (the sums saw only zeros).
        unknown = int(s["nan"]) >= int(s["count"])
        nan = float("nan")
        density_hist = s["sample_density_hist"].tolist()
        return {
            "name": self.name,
            "input": self.on_input,
            "shape": [self.units, *self.spatial],
            "units": self.units,
            "samples": self.samples,
            "elements": self.elements,
            "density": self.density,
            "zero_fraction": self.zero_fraction,
            "near_zero": {f"{t:g}": self.near_zero(t) for t in self.config.near_zero},
            "mean": mean,
            "var": var,
            "abs_mean": float(s["abs_sum"]) / count,
            "min": float(s["min"]),
            "max": float(s["max"]),
            "abs_quantiles": {f"{q:g}": self.quantile(q) for q in (0.5, 0.9, 0.99)},
            "hoyer": nan if unknown else float(s["hoyer_sum"]) / samples,
            "gini": self.gini(),
            "treves_rolls": nan if unknown else float(s["treves_rolls_sum"]) / samples,
            "population_density_hist": density_hist,
            "population_hoyer_hist": s["sample_hoyer_hist"].tolist(),
            "firing_rate": {
                "min": float(rate.min()) if rate.numel() else float("nan"),
                "median": float(rate.median()) if rate.numel() else float("nan"),
                "max": float(rate.max()) if rate.numel() else float("nan"),
            },
            "dead_units": int(self.dead_units().numel()),
            "dead_fraction": int(self.dead_units().numel()) / max(self.units, 1),
            "union_density": {str(b): d for b, d in self.union_density().items()},
            "nan": int(s["nan"]),
            "inf": int(s["inf"]),
        }


def _ratio(num: Tensor, den: Tensor) -> float:
    d = float(den)
    return float(num) / d if d > 0 else float("nan")
