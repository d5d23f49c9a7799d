"""Class selectivity of units (Morcos et al. 2018, "On the importance of single directions").

For each unit, the mean activation over the samples of each class is kept as a streaming sum.
The class-selectivity index is

    SI = (mu_max - mu_-max) / (mu_max + mu_-max)

with ``mu_max`` the largest class-conditional mean and ``mu_-max`` the mean of the other
classes' means: 0 when a unit responds equally to every class, 1 when it responds to one class
only. A unit of a conv layer is a channel (its map is averaged over space first); a unit of a
token layer ``(B, T, D)`` is a feature averaged over the valid tokens of a sequence.

The index is defined for non-negative activations (Morcos et al. use ReLU units): it is
computed from the class means of ``max(a, 0)``, so it lies in [0, 1] for GELU or tanh layers
too; ``class_means`` holds the means of the activations as they are. A unit that never had a
positive activation has index NaN and preferred class -1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from actsparse._hooks import LayerSpec
from actsparse.interpret._observe import json_float, json_list, per_sample_units, run_observers
from actsparse.measure.streaming import LayerStates, StreamingState


def selectivity_index(class_means: Tensor) -> tuple[Tensor, Tensor]:
    """``(index, preferred)`` per unit from non-negative ``(classes, units)`` means.

    Rows of NaN (classes never seen) are left out. Units whose means are all zero get index
    NaN and preferred class -1.

    Example:
        >>> means = torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
        >>> index, preferred = selectivity_index(means)
        >>> index.tolist(), preferred.tolist()
        ([1.0, 0.0, nan], [0, 0, -1])
    """
    present = ~torch.isnan(class_means).any(1)
    if int(present.sum()) < 2:
        raise ValueError(f"selectivity needs samples of at least 2 classes, got "
                         f"{int(present.sum())}")
    if bool((class_means[present] < 0).any()):
        raise ValueError("selectivity_index takes non-negative class means (rectify first)")
    means = class_means[present].double()  # (P, U)
    top, arg = means.max(0)  # (U,)
    rest = (means.sum(0) - top) / (means.shape[0] - 1)
    denom = top + rest
    index = torch.where(denom > 0, (top - rest) / denom.clamp_min(1e-300),
                        torch.full_like(top, float("nan")))
    classes = torch.nonzero(present).flatten()
    preferred = torch.where(denom > 0, classes[arg], torch.full_like(arg, -1))
    return index, preferred


@dataclass
class Selectivity:
    """Class selectivity of the units of one layer.

    Attributes:
        index: (units,) Morcos et al.'s index in [0, 1]; NaN for units that never fired.
        preferred: (units,) int64 class with the largest mean; -1 for units that never fired.
        class_means: (classes, units) mean activation per class (NaN for a class not seen).
        mean_index: mean of ``index`` over the units that fired at least once.
        counts: (classes,) int64 samples seen per class.
    """

    index: Tensor
    preferred: Tensor
    class_means: Tensor
    mean_index: float
    counts: Tensor

    @property
    def fired(self) -> Tensor:
        """(units,) bool: units with a positive activation on some sample."""
        return ~torch.isnan(self.index)

    def to_dict(self) -> dict[str, Any]:
        """Summary and per-unit values as strict JSON (NaN as null).

        Example:
            >>> s = Selectivity(torch.tensor([1.0, float("nan")]), torch.tensor([0, -1]),
            ...                 torch.zeros(2, 2), 1.0, torch.tensor([3, 4]))
            >>> d = s.to_dict()
            >>> d["mean_index"], d["fired_units"], d["index"]
            (1.0, 1, [1.0, None])
        """
        fired = self.fired
        idx = self.index[fired]
        return {
            "units": int(self.index.numel()),
            "fired_units": int(fired.sum()),
            "mean_index": json_float(self.mean_index),
            "median_index": json_float(float(idx.median())) if idx.numel() else None,
            "preferred_counts": json_list(torch.bincount(self.preferred[fired],
                                                         minlength=self.counts.numel())),
            "class_counts": json_list(self.counts),
            "index": json_list(self.index),
            "preferred": json_list(self.preferred),
            "class_means": json_list(self.class_means),
        }


class ClassSums(StreamingState):
    """Per-class sums of one layer's units; :meth:`compute` gives the :class:`Selectivity`.

    States (all ``"sum"``, growing by one row per new class): ``sums`` and ``pos_sums``
    ``(classes, units)`` float64 of the activation and of its positive part, ``counts``
    ``(classes,)`` int64 samples per class.

    Example:
        >>> a = ClassSums(units=2)
        >>> a.update(torch.tensor([[1.0, 1.0]]), torch.tensor([0]))
        >>> b = ClassSums(units=2)
        >>> b.update(torch.tensor([[0.0, 1.0]]), torch.tensor([1]))
        >>> a.merge(b).compute().index.tolist()
        [1.0, 0.0]
    """

    def __init__(self, units: int, num_classes: int | None = None) -> None:
        self.units, self.num_classes = units, num_classes
        rows = num_classes or 0
        self.add_state("sums", torch.zeros(rows, units, dtype=torch.float64), grow=True)
        self.add_state("pos_sums", torch.zeros(rows, units, dtype=torch.float64), grow=True)
        self.add_state("counts", torch.zeros(rows, dtype=torch.int64), grow=True)

    def update(self, values: Tensor, labels: Tensor) -> None:
        """Add per-sample unit values ``(B, units)`` with their labels ``(B,)`` (all >= 0)."""
        v = values.double().cpu()
        top = int(labels.max()) + 1 if labels.numel() else 0
        if self.num_classes is not None and top > self.num_classes:
            raise ValueError(f"label {top - 1} is out of range for num_classes="
                             f"{self.num_classes}; labels must be in [0, num_classes)")
        rows = max(top, self.state["counts"].numel(), 2)
        for name in ("sums", "pos_sums", "counts"):
            shape = (rows, *self.state[name].shape[1:])
            self.state[name] = self._aligned(name, self.state[name], shape)
        self.state["sums"].index_add_(0, labels, v)
        self.state["pos_sums"].index_add_(0, labels, v.clamp_min(0))
        self.state["counts"] += torch.bincount(labels, minlength=rows)

    def compute(self) -> Selectivity:
        """The layer's :class:`Selectivity` (ValueError when no labelled sample was seen)."""
        counts, sums = self.state["counts"], self.state["sums"]
        if int(counts.sum()) == 0:
            raise ValueError("no labelled samples (labels >= 0) were seen: nothing to compute "
                             "selectivity of")
        denom = counts.double().unsqueeze(1)  # (C, 1)
        nan = torch.full_like(sums, float("nan"))
        means = torch.where(denom > 0, sums / denom.clamp_min(1), nan)
        pos_means = torch.where(denom > 0, self.state["pos_sums"] / denom.clamp_min(1), nan)
        index, preferred = selectivity_index(pos_means)
        fired = ~torch.isnan(index)
        mean = float(index[fired].mean()) if bool(fired.any()) else float("nan")
        return Selectivity(index, preferred, means, mean, counts.clone())

    def _check_compatible(self, other: Any) -> None:
        if (self.units, self.num_classes) != (other.units, other.num_classes):
            raise ValueError(f"cannot merge class sums of {self.units} units, num_classes="
                             f"{self.num_classes} with {other.units} units, num_classes="
                             f"{other.num_classes}")


class SelectivityState(LayerStates[ClassSums]):
    """Streaming per-class sums of each layer's units; :meth:`compute` gives the indices.

    One :class:`ClassSums` per layer; merging two states (or ``all_reduce`` across ranks)
    equals measuring both streams. Samples labelled -1 (unknown) are skipped.

    Example:
        >>> state = SelectivityState(num_classes=2)
        >>> state.update("fc", torch.tensor([[1.0, 1.0], [0.0, 1.0]]), torch.tensor([0, 1]))
        >>> state.compute()["fc"].index.tolist()
        [1.0, 0.0]
    """

    _noun = "selectivity states"

    def __init__(self, num_classes: int | None = None) -> None:
        if num_classes is not None and num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        self.num_classes = num_classes
        self.layers: dict[str, ClassSums] = {}

    def update(self, layer: str, x: Tensor, labels: Tensor | None, mask: Tensor | None = None,
               offset: int = 0) -> None:
        """Add one batch of ``layer``'s output ``x`` with its ``labels``."""
        if labels is None:
            raise ValueError(f"layer {layer!r}: selectivity needs labels for every batch")
        v = per_sample_units(x, mask)  # (B, U)
        keep = labels >= 0
        state = self.layers.get(layer)
        if state is None:
            state = self.layers[layer] = ClassSums(v.shape[1], self.num_classes)
        elif state.units != v.shape[1]:
            raise ValueError(f"layer {layer!r} had {state.units} units and now has {v.shape[1]}")
        state.update(v[keep.to(v.device)], labels[keep])

    def compute(self) -> dict[str, Selectivity]:
        """The :class:`Selectivity` of every layer seen."""
        if not self.layers:
            raise ValueError("no labelled samples were seen: nothing to compute selectivity of")
        out = {}
        for layer, state in self.layers.items():
            if int(state.state["counts"].sum()) == 0:
                raise ValueError(f"no labelled samples (labels >= 0) of layer {layer!r} were "
                                 "seen: nothing to compute selectivity of")
            out[layer] = state.compute()
        return out

    def _check_compatible(self, other: Any) -> None:
        if self.num_classes != other.num_classes:
            raise ValueError(f"cannot merge selectivity states with num_classes="
                             f"{self.num_classes} and {other.num_classes}")


def class_selectivity(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    layers: LayerSpec | Sequence[LayerSpec] | None = None,
    num_classes: int | None = None,
) -> dict[str, Selectivity]:
    """Class selectivity of the units of ``layers`` over labelled ``batches``.

    Args:
        model: any ``nn.Module``; its modes are restored afterwards.
        batches: an iterable of ``(inputs, labels)`` pairs; ``inputs`` a tensor or a dict of
            keyword arguments (a tokenizer's output), ``labels`` int ``(batch,)``; -1 = unknown.
        layers: names, globs or module types as for :func:`actsparse.profile`; default: every
            activation module.
        num_classes: number of classes (default: the largest label + 1).

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
        >>> with torch.no_grad():
        ...     _ = net[0].weight.copy_(torch.eye(2)), net[0].bias.zero_()
        >>> x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> sel = class_selectivity(net, [(x, torch.tensor([0, 1]))])
        >>> sel["1"].index.tolist(), sel["1"].preferred.tolist()
        ([1.0, 1.0], [0, 1])
    """
    state = SelectivityState(num_classes)
    run_observers(model, batches, [state], layers=layers, need_labels=True)
    return state.compute()
