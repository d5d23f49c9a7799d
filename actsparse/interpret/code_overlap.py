"""The Jaccard overlap of sparse codes (active sets), averaged within and between classes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from actsparse.interpret._observe import json_float, json_list
from actsparse.interpret.false_match import random_jaccard


def jaccard_matrix(codes: Tensor) -> tuple[Tensor, Tensor]:
    """``(J, valid)``: pairwise Jaccard of boolean ``(N, units)`` codes, and which pairs count.

    ``valid`` is False for pairs of two empty codes (0/0), where ``J`` is 0.

    Example:
        >>> c = torch.tensor([[1, 1, 0], [0, 1, 1], [0, 0, 0]], dtype=torch.bool)
        >>> J, valid = jaccard_matrix(c)
        >>> J[0].tolist(), valid[2].tolist()
        ([1.0, 0.3333333333333333, 0.0], [True, True, False])
    """
    units = codes.shape[1]
    dtype = torch.float32 if units < 2**24 else torch.float64  # counts stay exact
    c = codes.to(dtype)
    inter = (c @ c.T).double()  # (N, N)
    sizes = c.sum(1).double()
    union = sizes[:, None] + sizes[None, :] - inter
    valid = union > 0
    return torch.where(valid, inter / union.clamp_min(1), torch.zeros_like(inter)), valid


@dataclass
class Overlap:
    """Mean Jaccard overlap of the active sets of samples, per pair of classes, in one layer.

    Attributes:
        matrix: (classes, classes) mean Jaccard between samples of class i and class j; the
            diagonal over distinct pairs within a class. NaN where no pair counts.
        within: mean of the diagonal (each class weighted equally).
        between: mean of the off-diagonal entries (each pair of classes weighted equally).
        pairwise: mean Jaccard over every pair of distinct samples, whatever their classes
            (each pair weighted equally; pairs of two empty codes left out).
        density: fraction of the layer's units active per sample, over all samples seen
            (for :func:`overlap_vs_density`, the fraction kept per sample).
        chance: expected Jaccard of two random codes with as many active units
            (:func:`random_jaccard`).
        chance_rates: expected Jaccard of independent codes with the units' own firing rates
            ``p``, ``sum p^2 / sum (2p - p^2)``: the chance level given dead and always-on units.
        classes: the label of each row.
        counts: codes kept per class.
        units: units per code.
    """

    matrix: Tensor
    within: float
    between: float
    density: float
    chance: float = float("nan")
    chance_rates: float = float("nan")
    classes: tuple[int, ...] = ()
    counts: tuple[int, ...] = ()
    units: int = 0
    pairwise: float = float("nan")

    @property
    def between_over_chance(self) -> float:
        """``between / chance``: 1 means classes overlap no more than random codes."""
        return self.between / self.chance if self.chance > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """As strict JSON (NaN as null).

        Example:
            >>> o = Overlap(torch.tensor([[0.5, 0.1], [0.1, 0.4]]), 0.45, 0.1, 0.05, 0.025)
            >>> o.to_dict()["between_over_chance"]
            4.0
        """
        return {
            "within": json_float(self.within), "between": json_float(self.between),
            "pairwise": json_float(self.pairwise),
            "density": json_float(self.density), "chance": json_float(self.chance),
            "chance_rates": json_float(self.chance_rates),
            "between_over_chance": json_float(self.between_over_chance),
            "units": self.units, "classes": list(self.classes), "counts": list(self.counts),
            "matrix": json_list(self.matrix),
        }


def overlap_from_codes(codes: Tensor, labels: Tensor, *, density: float | None = None,
                       chance_rates: float = float("nan")) -> Overlap:
    """The :class:`Overlap` of boolean ``(N, units)`` codes with int ``(N,)`` labels.

    ``density`` defaults to the mean fraction of active units in ``codes``.

    Example:
        >>> codes = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 1, 1, 0]]).bool()
        >>> o = overlap_from_codes(codes, torch.tensor([0, 0, 1, 1]))
        >>> o.matrix.mul(6).round().tolist(), round(o.within * 6, 6), round(o.between * 6, 6)
        ([[6.0, 1.0], [1.0, 2.0]], 4.0, 1.0)
        >>> round(o.pairwise * 3, 6)  # the 6 pairs: 1, 0, 1/3, 0, 1/3, 1/3; mean 1/3
        1.0
    """
    if codes.dim() != 2 or labels.shape != (codes.shape[0],):
        raise ValueError(f"codes must be (N, units) and labels (N,), got {tuple(codes.shape)} "
                         f"and {tuple(labels.shape)}")
    classes = torch.unique(labels)
    if classes.numel() < 2:
        raise ValueError(f"overlap between classes needs samples of at least 2 classes, got "
                         f"{classes.numel()}")
    codes = codes.bool()
    J, valid = jaccard_matrix(codes)
    valid.fill_diagonal_(False)  # a sample with itself is not a pair
    onehot = (labels[:, None] == classes[None, :]).double()  # (N, C)
    v = valid.double()
    sums = onehot.T @ (J * v) @ onehot  # (C, C)
    pairs = onehot.T @ v @ onehot
    matrix = torch.where(pairs > 0, sums / pairs.clamp_min(1), torch.full_like(sums, math.nan))
    off = ~torch.eye(classes.numel(), dtype=torch.bool)
    pairwise = float((J * v).sum() / v.sum()) if bool(v.any()) else math.nan
    units = codes.shape[1]
    d = float(codes.double().mean()) if density is None else density
    return Overlap(
        matrix, _nanmean(matrix.diagonal()), _nanmean(matrix[off]), d,
        random_jaccard(units, round(d * units)), chance_rates,
        tuple(int(c) for c in classes), tuple(int(n) for n in onehot.sum(0)), units, pairwise)


def _nanmean(t: Tensor) -> float:
    ok = ~torch.isnan(t)
    return float(t[ok].mean()) if bool(ok.any()) else float("nan")
