"""What :func:`actsparse.induce.calibrate.calibrate_thresholds` returns: thresholds, densities
and the handle that takes the thresholds off again."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from actsparse.induce.insert import inserted_thresholds, remove_threshold, threshold_module_name
from actsparse.induce.magnitude import MagnitudeThreshold
from actsparse.measure import profile


@dataclass
class LayerCalibration:
    """One calibrated layer.

    Attributes:
        name: the layer, ``NAME`` (a module's output) or ``NAME:input`` (a Linear's input).
        threshold: the score threshold: activations whose score (``|a|``, or ``|a| * ||W[:, i]||``
            under the weight rule) is ``<= threshold`` become 0.
        target: the density asked for (after greedy allocation, this layer's share).
        density: the density measured on the calibration data with every threshold in place.
        dense_density: the fraction of nonzero activations before thresholding.
    """

    name: str
    threshold: float
    target: float
    density: float
    dense_density: float


@dataclass
class Calibration:
    """What :func:`calibrate_thresholds` did; ``remove()`` restores the model exactly.

    Attributes:
        layers: per-layer results, in module order.
        passes: forward passes over the calibration batches (profile, score sample under the
            weight rule, refinement).
        rule: the selection rule the thresholds were calibrated under (``"magnitude"`` or
            ``"weight"``, see :mod:`actsparse.induce.selection`).
        greedy_forwards: forward passes the greedy allocation took (0 without ``greedy``).
        greedy_errors: per layer, ``(density, output error)`` on the grid the greedy allocation
            measured; pass it as ``greedy=`` to calibrate the same layers at another target
            without measuring again.
    """

    layers: dict[str, LayerCalibration]
    model: nn.Module = field(repr=False)
    passes: int = 0
    greedy_forwards: int = 0
    greedy_errors: dict[str, list[tuple[float, float]]] = field(default_factory=dict, repr=False)
    rule: str = "magnitude"

    @property
    def thresholds(self) -> dict[str, float]:
        return {name: layer.threshold for name, layer in self.layers.items()}

    @property
    def densities(self) -> dict[str, float]:
        """Density per layer on the calibration data."""
        return {name: layer.density for name, layer in self.layers.items()}

    def modules(self) -> dict[str, MagnitudeThreshold]:
        """The inserted threshold modules, keyed by layer."""
        found = inserted_thresholds(self.model)
        return {name: found[name] for name in self.layers if name in found}

    def measure(self, batches: Iterable[Any], **kwargs: Any) -> dict[str, float]:
        """Density per layer after thresholding, on other data (e.g. held out).

        ``kwargs`` go to :func:`actsparse.profile` (``input_key``, ``max_batches``, ...).
        """
        names = {threshold_module_name(name): name for name in self.layers}
        prof = profile(self.model, batches, layers=list(names), **kwargs)
        return {names[lp.name]: lp.density for lp in prof if lp.name in names}

    def remove(self) -> None:
        """Take every inserted threshold off: the model computes and saves exactly as before."""
        for name in self.layers:
            remove_threshold(self.model, name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "passes": self.passes,
            "greedy_forwards": self.greedy_forwards,
            "layers": [vars(layer).copy() for layer in self.layers.values()],
        }
