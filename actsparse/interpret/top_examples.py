"""The inputs that activate each unit most, kept streaming in bounded memory.

Per layer the state is a ``(units, k)`` buffer of the best values so far, with the index of
the sample (its position in the stream of batches) and where in that sample the unit peaked:
each batch's per-sample peaks are appended and cut back to the ``k`` largest, so memory is
``units * (k + batch)`` whatever the size of the data. Ties go to the smaller sample index, so
the buffer depends only on the samples seen, not on how they were batched; it is a streaming
state (:mod:`actsparse.measure.streaming`) whose merge concatenates two buffers and keeps the
``k`` largest again, so shards and ``torch.distributed`` ranks combine into exactly the buffer
of one pass over all the data, as long as sample indices are global (see ``run_observers``'s
``start``).

What a "unit" and its "position" are depends on the layer's output:

- ``(B, U)``: a feature; no position (the whole input drove it).
- ``(B, T, D)`` (tokens): a feature; its peak over the valid tokens and the token index, so a
  snippet with that token marked can be shown.
- ``(B, C, H, W)`` (conv maps): a channel; its peak over space and the ``(h, w)`` of the peak,
  whose receptive field in the input is the patch that drove it (:func:`receptive_field`).

Each sample appears at most once per unit (its peak), so the ``k`` examples are ``k`` inputs.

The receptive field of a conv peak is in :mod:`actsparse.interpret.receptive_field` (its
names are re-exported here).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from actsparse._hooks import LayerSpec
from actsparse.interpret._observe import json_list, run_observers
from actsparse.interpret.receptive_field import (
    BREAKING_TYPES,
    SPATIAL_TYPES,
    ReceptiveField,
    conv_chain,
    receptive_field,
    receptive_field_by_gradient,
)
from actsparse.measure.streaming import CAT, LayerStates, StreamingState

__all__ = [
    "BREAKING_TYPES", "SPATIAL_TYPES", "ReceptiveField", "TopActivations", "TopExamples",
    "UnitTopK", "best_first", "conv_chain", "receptive_field", "receptive_field_by_gradient",
    "top_examples",
]


@dataclass
class TopActivations:
    """The ``k`` samples that activated each unit of one layer most, best first.

    Attributes:
        values: (units, k) float peak activation; -inf where fewer than k samples were seen.
        samples: (units, k) int64 index of the sample in the stream; -1 where empty.
        positions: (units, k, P) int64 where in the sample the unit peaked: P = 0 for
            ``(B, U)`` layers, 1 (token index) for ``(B, T, D)``, 2 (h, w) for conv maps.
        kind: 'vector', 'token' or 'spatial'.
        spatial: the spatial shape of a conv layer's map, else ``()``.
    """

    values: Tensor
    samples: Tensor
    positions: Tensor
    kind: str
    spatial: tuple[int, ...] = ()

    @property
    def units(self) -> int:
        return int(self.values.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """As strict JSON (-inf as null).

        Example:
            >>> t = TopActivations(torch.tensor([[2.0, float("-inf")]]),
            ...                    torch.tensor([[3, -1]]), torch.zeros(1, 2, 0, dtype=torch.long),
            ...                    "vector")
            >>> t.to_dict()["values"]
            [[2.0, None]]
        """
        return {"kind": self.kind, "spatial": list(self.spatial), "units": self.units,
                "k": int(self.values.shape[1]), "values": json_list(self.values),
                "samples": json_list(self.samples), "positions": json_list(self.positions)}


def best_first(values: Tensor, samples: Tensor) -> Tensor:
    """Per row, the column order of ``values`` from largest to smallest, ties by smaller sample.

    A total order when sample indices are distinct, so it does not depend on column order.

    Example:
        >>> best_first(torch.tensor([[1.0, 3.0, 3.0]]), torch.tensor([[0, 7, 2]])).tolist()
        [[2, 1, 0]]
    """
    by_sample = samples.argsort(dim=1, stable=True)
    by_value = values.gather(1, by_sample).argsort(dim=1, descending=True, stable=True)
    return by_sample.gather(1, by_value)


class UnitTopK(StreamingState):
    """The ``k`` best ``(value, sample, position)`` of each unit of one layer.

    States (all ``"cat"`` along the examples axis, then cut to the ``k`` best): ``values``
    (units, <= k) float, ``samples`` (units, <= k) int64, ``positions`` (units, <= k, P) int64.

    Example:
        >>> a, b = UnitTopK(2, 1, 0, "vector"), UnitTopK(2, 1, 0, "vector")
        >>> a.update(torch.tensor([[1.0], [4.0]]), torch.zeros(2, 1, 0, dtype=torch.long), 0)
        >>> b.update(torch.tensor([[3.0]]), torch.zeros(1, 1, 0, dtype=torch.long), 2)
        >>> a.merge(b).compute().samples.tolist()
        [[1, 2]]
    """

    def __init__(self, k: int, units: int, places: int, kind: str,
                 spatial: tuple[int, ...] = ()) -> None:
        self.k, self.units, self.kind, self.spatial = k, units, kind, spatial
        self.add_state("values", torch.full((units, 0), float("-inf")), CAT, dim=1)
        self.add_state("samples", torch.zeros(units, 0, dtype=torch.int64), CAT, dim=1)
        self.add_state("positions", torch.zeros(units, 0, places, dtype=torch.int64), CAT, dim=1)

    def update(self, peak: Tensor, where: Tensor, first: int) -> None:
        """Add per-sample peaks ``(B, units)`` found at ``where`` ``(B, units, P)``; the batch's
        first sample has index ``first``."""
        batch = peak.shape[0]
        ids = torch.arange(first, first + batch).unsqueeze(0).expand(self.units, batch)
        s = self.state
        s["values"] = torch.cat([s["values"], peak.T.float().cpu()], 1)  # (U, k' + B)
        s["samples"] = torch.cat([s["samples"], ids], 1)
        s["positions"] = torch.cat([s["positions"], where.transpose(0, 1).cpu()], 1)
        self._trim()

    def _trim(self) -> None:
        s = self.state
        order = best_first(s["values"], s["samples"])[:, : self.k]  # (U, <= k)
        s["values"] = s["values"].gather(1, order)
        s["samples"] = s["samples"].gather(1, order)
        s["positions"] = s["positions"].gather(
            1, order.unsqueeze(-1).expand(-1, -1, s["positions"].shape[2]))

    def _check_compatible(self, other: Any) -> None:
        mine = (self.k, self.units, self.kind, self.spatial)
        theirs = (other.k, other.units, other.kind, other.spatial)
        if mine != theirs:
            raise ValueError(f"cannot merge top examples (k, units, kind, spatial) {mine} with "
                             f"{theirs}")

    def compute(self) -> TopActivations:
        """The buffer padded to ``k`` columns (-inf values, sample -1)."""
        values, samples, positions = (self.state[n] for n in ("values", "samples", "positions"))
        pad = self.k - values.shape[1]
        return TopActivations(
            torch.cat([values, torch.full((self.units, pad), float("-inf"))], 1),
            torch.cat([samples, torch.full((self.units, pad), -1)], 1),
            torch.cat([positions, torch.full((self.units, pad, positions.shape[2]), -1)], 1),
            self.kind, self.spatial)


class TopExamples(LayerStates[UnitTopK]):
    """Streaming top-``k`` activating samples per unit, per layer (a :class:`UnitTopK` each).

    Example:
        >>> top = TopExamples(k=2)
        >>> top.update("fc", torch.tensor([[1.0, 5.0], [3.0, 0.0]]), None, None, offset=0)
        >>> other = TopExamples(k=2)
        >>> other.update("fc", torch.tensor([[2.0, 4.0]]), None, None, offset=2)
        >>> r = top.merge(other).compute()["fc"]
        >>> r.samples.tolist(), r.values.tolist()
        ([[1, 2], [0, 2]], [[3.0, 2.0], [5.0, 4.0]])
    """

    _noun = "top examples"

    def __init__(self, k: int = 9) -> None:
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k (examples per unit) must be a whole number >= 1, got {k!r}")
        self.k = k
        self.layers: dict[str, UnitTopK] = {}

    def update(self, layer: str, x: Tensor, labels: Tensor | None = None,
               mask: Tensor | None = None, offset: int = 0) -> None:
        """Merge one batch of ``layer``'s output ``x``; its first sample has index ``offset``."""
        peak, where, kind, spatial = _peaks(x, mask)  # (B, U), (B, U, P)
        state = self.layers.get(layer)
        if state is None:
            state = self.layers[layer] = UnitTopK(self.k, peak.shape[1], where.shape[2], kind,
                                                  spatial)
        elif state.units != peak.shape[1]:
            raise ValueError(f"layer {layer!r} had {state.units} units and now has "
                             f"{peak.shape[1]}")
        state.update(peak, where, offset)

    def compute(self) -> dict[str, TopActivations]:
        """The :class:`TopActivations` of every layer seen, padded to ``k`` columns."""
        return {layer: state.compute() for layer, state in self.layers.items()}

    def _check_compatible(self, other: Any) -> None:
        if self.k != other.k:
            raise ValueError(f"cannot merge top examples with k={self.k} and k={other.k}")


def _peaks(x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor, str, tuple[int, ...]]:
    """Per sample and unit: the peak value and where it is; the layer kind and spatial shape."""
    if x.dim() == 2:
        return x, torch.zeros(*x.shape, 0, dtype=torch.int64), "vector", ()
    if x.dim() == 3:  # (B, T, D)
        if mask is not None and mask.shape == x.shape[:2]:
            x = x.masked_fill(~mask.to(x.device).unsqueeze(-1), float("-inf"))
        peak, where = x.max(1)  # (B, D)
        return peak, where.unsqueeze(-1), "token", ()
    if x.dim() == 4:  # (B, C, H, W)
        b, c, h, w = x.shape
        peak, flat = x.reshape(b, c, h * w).max(2)  # (B, C)
        where = torch.stack([flat // w, flat % w], -1)  # (B, C, 2)
        return peak, where, "spatial", (h, w)
    raise ValueError(f"top examples take (B, U), (B, T, D) or (B, C, H, W) outputs, got shape "
                     f"{tuple(x.shape)}")


def top_examples(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    layers: LayerSpec | Sequence[LayerSpec] | None = None,
    k: int = 9,
) -> dict[str, TopActivations]:
    """The ``k`` samples of ``batches`` that activate each unit of ``layers`` most.

    ``batches`` are tensors, dicts of keyword arguments (padding is left out through their
    ``attention_mask``) or ``(inputs, labels)`` pairs (labels unused). Sample indices count
    samples across batches, from 0.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Identity(), torch.nn.ReLU())
        >>> batches = [torch.tensor([[0.0, 1.0], [2.0, 0.5]]), torch.tensor([[3.0, 0.0]])]
        >>> top_examples(net, batches, k=1)["1"].samples.tolist()
        [[2], [0]]
    """
    state = TopExamples(k)
    run_observers(model, batches, [state], layers=layers, need_labels=False)
    return state.compute()


