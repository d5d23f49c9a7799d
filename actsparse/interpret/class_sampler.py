"""A seeded uniform sample of codes per class, kept streaming and mergeable (for overlap).

Every sample gets a random key that depends only on the seed and its index in the stream
(:func:`sample_keys`, SplitMix64). Per class and layer the reservoir keeps the ``per_class``
samples with the largest keys: Efraimidis & Spirakis' weighted sampling without replacement
with all weights equal, which is a uniform random sample without replacement of the class's
samples. Because a key never depends on the order or batching of the data, the kept set is a
function of the set of (sample index, label) pairs seen:

- merging two reservoirs (concatenate, keep the largest keys per class) gives exactly the
  reservoir of one pass over the union of their samples, and ``all_reduce`` across
  ``torch.distributed`` ranks gives it on every rank, *provided sample indices are global*
  (distinct across shards: give each rank's ``run_observers`` its shard's ``start``);
- with the same index on two shards (each rank counting from 0), two different samples share a
  key: each is still kept with the right probability, but the sample is no longer exactly the
  single-process one.

Memory is ``classes * per_class * units`` booleans (plus float16 values with ``keep_values``)
whatever the length of the data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from actsparse.interpret._observe import per_sample_units
from actsparse.interpret.code_overlap import Overlap, overlap_from_codes
from actsparse.measure.streaming import CAT, SUM, LayerStates, StreamingState

DENSITIES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
_GOLDEN = 0x9E3779B97F4A7C15


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on uint64 (arithmetic wraps modulo 2**64)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def sample_keys(seed: int, ids: Tensor) -> Tensor:
    """A uniform key in [0, 1) per sample index, a function of ``(seed, index)`` only.

    Example:
        >>> k = sample_keys(0, torch.arange(4))
        >>> k.dtype, bool(((k >= 0) & (k < 1)).all())
        (torch.float64, True)
        >>> torch.equal(k, sample_keys(0, torch.tensor([0, 1, 2, 3])))
        True
        >>> bool((sample_keys(1, torch.arange(4)) != k).all())
        True
    """
    with np.errstate(over="ignore"):
        base = _mix64(np.array([seed % 2**64], dtype=np.uint64))
        z = ids.cpu().numpy().astype(np.uint64) + np.uint64(1)
        z = _mix64(base + z * np.uint64(_GOLDEN))
    return torch.from_numpy((z >> np.uint64(11)).astype(np.float64) * 2.0**-53)


def kept_rows(labels: Tensor, ids: Tensor, seed: int, per_class: int) -> Tensor:
    """Rows to keep: per label the ``per_class`` largest keys (ties by smaller index).

    Returned in the order (label, sample index).

    Example:
        >>> kept_rows(torch.tensor([0, 0, 0, 1]), torch.tensor([5, 6, 7, 8]), 0, 2).shape
        torch.Size([3])
    """
    if labels.numel() == 0:
        return torch.zeros(0, dtype=torch.int64)
    keys = sample_keys(seed, ids)
    order = ids.argsort(stable=True)
    order = order[keys[order].argsort(descending=True, stable=True)]
    order = order[labels[order].argsort(stable=True)]  # (label asc, key desc, index asc)
    _, counts = torch.unique_consecutive(labels[order], return_counts=True)
    starts = (counts.cumsum(0) - counts).repeat_interleave(counts)
    keep = order[torch.arange(order.numel()) - starts < per_class]
    keep = keep[ids[keep].argsort(stable=True)]
    return keep[labels[keep].argsort(stable=True)]


class ClassReservoir(StreamingState):
    """The per-class sample of one layer's codes, with every labelled sample's active counts.

    States: ``codes`` (kept, units) bool, ``values`` (kept, units) float16 (with
    ``keep_values``), ``ids`` and ``labels`` (kept,) int64, all ``"cat"`` then cut back to
    ``per_class`` per label; ``active`` (units,) float64 and ``samples`` () int64, ``"sum"``.

    Example:
        >>> a = ClassReservoir(2, units=1, seed=0)
        >>> a.update(torch.ones(3, 1), torch.tensor([0, 0, 0]), first=0)
        >>> b = ClassReservoir(2, units=1, seed=0)
        >>> b.update(torch.ones(3, 1), torch.tensor([0, 0, 0]), first=3)
        >>> both = ClassReservoir(2, units=1, seed=0)
        >>> both.update(torch.ones(6, 1), torch.zeros(6, dtype=torch.long), first=0)
        >>> torch.equal(a.merge(b).codes()[2], both.codes()[2])
        True
    """

    def __init__(self, per_class: int, units: int, *, threshold: float = 0.0, seed: int = 0,
                 keep_values: bool = False) -> None:
        self.per_class, self.units, self.threshold = per_class, units, threshold
        self.seed, self.keep_values = seed, keep_values
        self.add_state("codes", torch.zeros(0, units, dtype=torch.bool), CAT)
        if keep_values:
            self.add_state("values", torch.zeros(0, units, dtype=torch.float16), CAT)
        self.add_state("ids", torch.zeros(0, dtype=torch.int64), CAT)
        self.add_state("labels", torch.zeros(0, dtype=torch.int64), CAT)
        self.add_state("active", torch.zeros(units, dtype=torch.float64), SUM)
        self.add_state("samples", torch.zeros((), dtype=torch.int64), SUM)

    def _rows(self) -> list[str]:
        return ["codes", "values", "ids", "labels"] if self.keep_values else \
            ["codes", "ids", "labels"]

    def update(self, flat: Tensor, labels: Tensor, first: int) -> None:
        """Add ``(B, units)`` values with their labels (-1 skipped); the first has index ``first``.

        Kept rows are overwritten in place by the samples that displace them, so a batch costs
        about ``batch * units``, not the size of the reservoir.
        """
        s = self.state
        keep = labels >= 0
        active = flat.abs() > self.threshold
        s["active"] += (active if bool(keep.all()) else active[keep]).sum(0)  # int64 counts
        s["samples"] += int(keep.sum())
        rows = torch.nonzero(keep).flatten()  # candidates: the labelled samples of the batch
        ids, labels = rows + first, labels[rows]
        old = s["ids"].numel()
        chosen = kept_rows(torch.cat([s["labels"], labels]), torch.cat([s["ids"], ids]),
                           self.seed, self.per_class)
        stays = torch.zeros(old, dtype=torch.bool)
        stays[chosen[chosen < old]] = True
        free = torch.nonzero(~stays).flatten()  # rows displaced by a sample of this batch
        incoming = chosen[chosen >= old] - old
        picked = rows[incoming]
        new = {"codes": active[picked], "ids": ids[incoming], "labels": labels[incoming]}
        if self.keep_values:
            new["values"] = flat[picked].to(torch.float16)
        n = free.numel()
        if n > incoming.numel():  # cannot happen (a row leaves only for a newcomer); be safe
            order = torch.cat([torch.nonzero(stays).flatten(), old + torch.arange(len(picked))])
            for name in self._rows():
                s[name] = torch.cat([s[name], new[name]])[order]
            return
        for name in self._rows():
            if n:
                s[name][free] = new[name][:n]
            if incoming.numel() > n:
                s[name] = torch.cat([s[name], new[name][n:]])

    def _trim(self) -> None:
        s = self.state
        chosen = kept_rows(s["labels"], s["ids"], self.seed, self.per_class)
        for name in self._rows():
            s[name] = s[name][chosen]

    def _check_compatible(self, other: Any) -> None:
        mine = (self.per_class, self.units, self.threshold, self.seed, self.keep_values)
        theirs = (other.per_class, other.units, other.threshold, other.seed, other.keep_values)
        if mine != theirs:
            raise ValueError("cannot merge class samples made with (per_class, units, "
                             f"threshold, seed, keep_values) {mine} and {theirs}")

    def order(self) -> Tensor:
        """Row order by (label, sample index)."""
        ids, labels = self.state["ids"], self.state["labels"]
        by_id = ids.argsort(stable=True)
        return by_id[labels[by_id].argsort(stable=True)]

    def codes(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(codes (N, units) bool, labels (N,), sample indices (N,))``, by label and index."""
        o = self.order()
        return self.state["codes"][o], self.state["labels"][o], self.state["ids"][o]

    def rates(self) -> Tensor:
        """(units,) fraction of labelled samples in which each unit was active."""
        return self.state["active"] / max(int(self.state["samples"]), 1)

    def compute(self) -> Overlap:
        """The :class:`Overlap` of the kept codes, with all samples' density and rates."""
        codes, labels, _ = self.codes()
        p = self.rates()
        expected_union = float((2 * p - p * p).sum())
        rates = float((p * p).sum()) / expected_union if expected_union > 0 else math.nan
        return overlap_from_codes(codes, labels, density=float(p.mean()), chance_rates=rates)


class ClassSampler(LayerStates[ClassReservoir]):
    """A uniform random sample of ``per_class`` codes per class and layer, kept streaming.

    One :class:`ClassReservoir` per layer; the keys depend on the seed and the sample index
    only, so every layer keeps the same samples, and merging samplers (or ``all_reduce``)
    equals sampling the union (see the module docstring for what that means for a sample).
    Stores the active sets (``|a| > threshold``) as bool, and with ``keep_values`` the values
    too (float16, for :func:`overlap_vs_density`); counts the active units of every labelled
    sample for the layer's density and firing rates.

    Example:
        >>> sampler = ClassSampler(per_class=2, seed=0)
        >>> sampler.update("fc", torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]]),
        ...                torch.tensor([0, 1, 0]))
        >>> sampler.overlaps()["fc"].within
        1.0
    """

    _noun = "class samplers"

    def __init__(self, per_class: int = 100, *, threshold: float = 0.0, seed: int = 0,
                 keep_values: bool = False) -> None:
        if not isinstance(per_class, int) or isinstance(per_class, bool) or per_class < 2:
            raise ValueError(f"per_class must be a whole number >= 2 (pairs within a class), "
                             f"got {per_class!r}")
        if not threshold >= 0:
            raise ValueError(f"threshold must be >= 0 (active means |a| > threshold), "
                             f"got {threshold}")
        self.per_class, self.threshold, self.seed = per_class, float(threshold), seed
        self.keep_values = keep_values
        self.layers: dict[str, ClassReservoir] = {}

    def update(self, layer: str, x: Tensor, labels: Tensor | None, mask: Tensor | None = None,
               offset: int = 0) -> None:
        """Add one batch of ``layer``'s output ``x`` with its ``labels`` (-1: skipped)."""
        if labels is None:
            raise ValueError(f"layer {layer!r}: class overlap needs labels for every batch")
        flat = (per_sample_units(x, mask) if x.dim() == 3 else x.flatten(1)).cpu()  # (B, U)
        state = self.layers.get(layer)
        if state is None:
            state = self.layers[layer] = ClassReservoir(
                self.per_class, flat.shape[1], threshold=self.threshold, seed=self.seed,
                keep_values=self.keep_values)
        elif state.units != flat.shape[1]:
            raise ValueError(f"layer {layer!r} had {state.units} units and now has "
                             f"{flat.shape[1]}")
        state.update(flat, labels.cpu(), offset)

    def _reservoir(self, layer: str) -> ClassReservoir:
        state = self.layers.get(layer)
        if state is None or state.state["ids"].numel() == 0:
            raise ValueError(f"no labelled samples (labels >= 0) of layer {layer!r} were seen")
        return state

    def codes(self, layer: str) -> tuple[Tensor, Tensor, Tensor]:
        """``(codes (N, units) bool, labels (N,), sample indices (N,))`` kept for ``layer``."""
        return self._reservoir(layer).codes()

    def values(self, layer: str) -> Tensor:
        """The kept values ``(N, units)`` float32 in the order of :meth:`codes`."""
        if not self.keep_values:
            raise ValueError("this sampler keeps no values: create it with keep_values=True")
        state = self._reservoir(layer)
        return state.state["values"][state.order()].float()

    def rates(self, layer: str) -> Tensor:
        """(units,) fraction of labelled samples in which each unit was active."""
        return self.layers[layer].rates()

    def overlaps(self) -> dict[str, Overlap]:
        """The :class:`Overlap` of every layer, from the kept codes and all samples' density."""
        if not self.layers:
            raise ValueError("no labelled samples were seen: nothing to compute overlap of")
        return {layer: self._reservoir(layer).compute() for layer in self.layers}

    def compute(self) -> dict[str, Overlap]:
        """The same as :meth:`overlaps`."""
        return self.overlaps()

    def density_curve(self, layer: str, densities: Sequence[float] = DENSITIES) -> list[Overlap]:
        """Overlap of ``layer``'s kept codes cut to the top ``d`` fraction per sample, per ``d``.

        Each sample keeps its ``k = max(1, round(d * units))`` largest values; ties (e.g. the
        many exact zeros when ``d`` exceeds the layer's own density) are broken at random
        (seeded), so that ties do not pick the same units in every sample.
        """
        for d in densities:
            if not 0 < d <= 1:
                raise ValueError(f"a density is a fraction in (0, 1], got {d}")
        values = self.values(layer).double()  # float16 values: distinct ones differ by >= 2**-24
        _, labels, _ = self.codes(layer)
        gen = torch.Generator().manual_seed(self.seed)
        jitter = torch.rand(values.shape, generator=gen, dtype=torch.float64) * 2.0**-26
        order = (values + jitter).argsort(dim=1, descending=True)  # one sort for all d
        units = values.shape[1]
        out = []
        for d in densities:
            k = max(1, round(d * units))
            codes = torch.zeros(values.shape, dtype=torch.bool)
            codes.scatter_(1, order[:, :k], True)
            out.append(overlap_from_codes(codes, labels, density=k / units))
        return out

    def _check_compatible(self, other: Any) -> None:
        mine = (self.per_class, self.threshold, self.seed, self.keep_values)
        theirs = (other.per_class, other.threshold, other.seed, other.keep_values)
        if mine != theirs:
            raise ValueError("cannot merge class samplers made with (per_class, threshold, "
                             f"seed, keep_values) {mine} and {theirs}")
