"""Selectivity, overlap and top examples of a model, measured together in one pass.

:func:`interpret_model` feeds every hooked layer output to the three streaming states
(:class:`SelectivityState`, :class:`ClassSampler`, :class:`TopExamples`) in a single run over
the data; without class labels only the top examples are kept. :func:`chosen_units` picks the
units worth showing from the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from actsparse._hooks import LayerSpec
from actsparse.interpret._observe import run_observers
from actsparse.interpret.overlap import ClassSampler, Overlap
from actsparse.interpret.selectivity import Selectivity, SelectivityState
from actsparse.interpret.top_examples import TopActivations, TopExamples


@dataclass
class Interpretation:
    """What :func:`interpret_model` measured, per layer; ``None`` where there were no labels."""

    samples: int
    top: dict[str, TopActivations]
    selectivity: dict[str, Selectivity] | None
    overlaps: dict[str, Overlap] | None
    curves: dict[str, list[Overlap]] | None  # overlap against density

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``selectivity``, ``overlap``, ``overlap_vs_density``, ``top_examples``."""
        return {
            "selectivity": ({k: v.to_dict() for k, v in self.selectivity.items()}
                            if self.selectivity is not None else None),
            "overlap": ({k: v.to_dict() for k, v in self.overlaps.items()}
                        if self.overlaps is not None else None),
            "overlap_vs_density": ({k: [_without_matrix(o) for o in v]
                                    for k, v in self.curves.items()}
                                   if self.curves is not None else None),
            "top_examples": {k: v.to_dict() for k, v in self.top.items()},
        }


def interpret_model(
    model: nn.Module, batches: Iterable[Any], *, labelled: bool,
    layers: LayerSpec | Sequence[LayerSpec] | None = None, top_k: int = 9,
    per_class: int = 100, threshold: float = 0.0, seed: int = 0,
) -> Interpretation:
    """Run ``model`` once over ``batches``; measure what the labels allow.

    With ``labelled``, batches are ``(inputs, labels)`` and class selectivity and the overlap
    of active sets (``|a| > threshold``, ``per_class`` codes sampled per class with ``seed``)
    are measured beside the ``top_k`` examples of every unit; without, only the top examples.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 6), nn.ReLU())
        >>> data = [(torch.randn(8, 4), torch.arange(8) % 2) for _ in range(3)]
        >>> found = interpret_model(net, data, labelled=True, top_k=2, per_class=4)
        >>> found.samples, list(found.top), found.top["1"].values.shape
        (24, ['1'], torch.Size([6, 2]))
        >>> sorted(found.to_dict())
        ['overlap', 'overlap_vs_density', 'selectivity', 'top_examples']
    """
    top = TopExamples(top_k)
    selectivity = SelectivityState() if labelled else None
    sampler = (ClassSampler(per_class, threshold=threshold, seed=seed, keep_values=True)
               if labelled else None)
    observers = [o for o in (top, selectivity, sampler) if o is not None]
    samples = run_observers(model, batches, observers, layers=layers, need_labels=labelled)
    return Interpretation(
        samples=samples, top=top.compute(),
        selectivity=selectivity.compute() if selectivity is not None else None,
        overlaps=sampler.overlaps() if sampler is not None else None,
        curves=({layer: sampler.density_curve(layer) for layer in sampler.layers}
                if sampler is not None else None))


def chosen_units(top: TopActivations, selectivity: Selectivity | None, n: int) -> list[int]:
    """The ``n`` most selective units that fired, else (no selectivity) the highest peaks.

    Example:
        >>> from actsparse.interpret.top_examples import TopExamples
        >>> state = TopExamples(1)
        >>> state.update("l", torch.tensor([[0.0, 3.0, 1.0]]), None, None, 0)
        >>> chosen_units(state.compute()["l"], None, 2)
        [1, 2]
    """
    if selectivity is not None:
        index = torch.nan_to_num(selectivity.index, nan=-1.0)
        order = index.argsort(descending=True)
        return [int(u) for u in order[:n] if index[u] >= 0]
    peak = top.values[:, 0]
    order = peak.argsort(descending=True)
    return [int(u) for u in order[:n] if torch.isfinite(peak[u])]


def _without_matrix(overlap: Overlap) -> dict[str, Any]:
    d = overlap.to_dict()
    d.pop("matrix")
    return d
