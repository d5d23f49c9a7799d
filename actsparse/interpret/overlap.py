"""How much the active sets of samples overlap, within and between classes.

A sample's code in a layer is its set of active units, ``|a| > threshold``, over the whole
output (a conv map counts every channel at every position, the units a k-WTA layer competes
over; a token layer ``(B, T, D)`` is averaged over the valid tokens first). The overlap of two
codes is their Jaccard index ``|A & B| / |A | B|``. :func:`class_overlap` keeps a uniform
random sample of ``per_class`` codes per class (a seeded, mergeable reservoir:
:mod:`actsparse.interpret.class_sampler`; memory is ``classes * per_class * units`` bytes
however long the data) and averages the Jaccard index over pairs of samples of classes ``i``
and ``j`` (:mod:`actsparse.interpret.code_overlap`); pairs of two empty codes are left out.

Sparse codes overlap little by chance: two random codes with ``k`` of ``n`` units active share
about ``k^2 / n`` units (a fraction ``a/n`` of each), Jaccard about ``d / (2 - d)`` at density
``d``. :func:`false_match_probability` is Ahmad & Scheinkman's (2019, "How Can We Be So
Dense?") probability that a random code with ``a`` of ``n`` units active matches a stored
pattern of ``s`` units in at least ``theta`` of them (:mod:`actsparse.interpret.false_match`).

The names of those modules are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch  # noqa: F401  (the examples below use it)
from torch import nn

from actsparse._hooks import LayerSpec
from actsparse.interpret._observe import run_observers
from actsparse.interpret.class_sampler import (
    DENSITIES,
    ClassReservoir,
    ClassSampler,
    kept_rows,
    sample_keys,
)
from actsparse.interpret.code_overlap import Overlap, jaccard_matrix, overlap_from_codes
from actsparse.interpret.false_match import (
    false_match_curve,
    false_match_probability,
    log_false_match_probability,
    random_jaccard,
)

__all__ = [
    "DENSITIES", "ClassReservoir", "ClassSampler", "Overlap", "class_overlap",
    "false_match_curve", "false_match_probability", "jaccard_matrix", "kept_rows",
    "log_false_match_probability", "overlap_from_codes", "overlap_vs_density", "random_jaccard",
    "sample_keys",
]


def class_overlap(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    layers: LayerSpec | Sequence[LayerSpec] | None = None,
    per_class: int = 100,
    threshold: float = 0.0,
    seed: int = 0,
) -> dict[str, Overlap]:
    """Mean Jaccard overlap of active sets within and between classes, per layer.

    Args:
        model: any ``nn.Module``; its modes are restored afterwards.
        batches: ``(inputs, labels)`` pairs, labels int ``(batch,)`` (-1 = unknown, skipped).
        layers: as for :func:`actsparse.profile`; default: every activation module.
        per_class: codes kept per class (a seeded uniform sample); pairs grow as its square.
        threshold: a unit is active when ``|a| > threshold``.
        seed: seed of the per-class sampling.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Identity(), torch.nn.ReLU())
        >>> x = torch.tensor([[1.0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]])
        >>> o = class_overlap(net, [(x, torch.tensor([0, 0, 1, 1]))])["1"]
        >>> o.within, o.between, o.density
        (1.0, 0.0, 0.5)
    """
    sampler = ClassSampler(per_class, threshold=threshold, seed=seed)
    run_observers(model, batches, [sampler], layers=layers, need_labels=True)
    return sampler.overlaps()


def overlap_vs_density(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    densities: Sequence[float] = DENSITIES,
    layers: LayerSpec | Sequence[LayerSpec] | None = None,
    per_class: int = 100,
    seed: int = 0,
) -> dict[str, list[Overlap]]:
    """Within/between-class overlap when each sample keeps only its top ``d`` of units.

    For each density ``d`` the codes are each sample's ``round(d * units)`` largest values
    (see :meth:`ClassSampler.density_curve`); compare ``between`` with ``chance``, the overlap
    of random codes of that size (about ``d / (2 - d)``).

    Example:
        >>> torch.manual_seed(0) is not None
        True
        >>> net = torch.nn.Sequential(torch.nn.Identity(), torch.nn.ReLU())
        >>> batch = (torch.randn(40, 50), torch.arange(40) % 2)
        >>> curve = overlap_vs_density(net, [batch], densities=[0.1, 0.5], per_class=20)["1"]
        >>> [o.density for o in curve]
        [0.1, 0.5]
    """
    sampler = ClassSampler(per_class, seed=seed, keep_values=True)
    run_observers(model, batches, [sampler], layers=layers, need_labels=True)
    return {layer: sampler.density_curve(layer, densities) for layer in sampler.layers}
