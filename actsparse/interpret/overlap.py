"""How much the active sets of samples overlap, within and between classes.

A sample's code in a layer is its set of active units, ``|a| > threshold``, over the whole
output (a conv map counts every channel at every position, the units a k-WTA layer competes
over; a token layer ``(B, T, D)`` is averaged over the valid tokens first). The overlap of two
codes is their Jaccard index ``|A & B| / |A | B|``. :func:`class_overlap` keeps a uniform
random sample of ``per_class`` codes per class (reservoir sampling, seeded, so memory is
``classes * per_class * units`` bytes however long the data) and averages the Jaccard index
over pairs of samples of classes ``i`` and ``j``; pairs of two empty codes are left out.

Sparse codes overlap little by chance: two random codes with ``k`` of ``n`` units active share
about ``k^2 / n`` units (a fraction ``a/n`` of each), Jaccard about ``d / (2 - d)`` at density
``d``. :func:`false_match_probability` is Ahmad & Scheinkman's (2019, "How Can We Be So
Dense?") probability that a random code with ``a`` of ``n`` units active matches a stored
pattern of ``s`` units in at least ``theta`` of them.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import torch
from torch import Tensor, nn

from actsparse._hooks import LayerSpec
from actsparse.interpret._observe import json_float, json_list, per_sample_units, run_observers

DENSITIES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)


# ---- false matches (Ahmad & Scheinkman 2019) --------------------------------------------------

def _whole(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None


def _check_nast(n: Any, a: Any, s: Any, theta: Any) -> tuple[int, int, int, int]:
    n, a, s, theta = (_whole(k, v) for k, v in (("n", n), ("a", a), ("s", s), ("theta", theta)))
    if n < 1:
        raise ValueError(f"n (units) must be >= 1, got {n}")
    if not 0 <= a <= n:
        raise ValueError(f"a (active units of the random code) must be in [0, n={n}], got {a}")
    if not 0 <= s <= n:
        raise ValueError(f"s (units of the stored pattern) must be in [0, n={n}], got {s}")
    if theta < 0:
        raise ValueError(f"theta (match threshold) must be >= 0, got {theta}")
    return n, a, s, theta


def _match_counts(n: int, a: int, s: int, theta: int) -> tuple[int, int]:
    """``sum_{b=theta}^{s} C(s, b) C(n-s, a-b)`` and ``C(n, a)``, exact integers."""
    top = min(s, a)
    num = sum(math.comb(s, b) * math.comb(n - s, a - b) for b in range(theta, top + 1))
    return num, math.comb(n, a)


def false_match_probability(n: int, a: int, s: int, theta: int) -> float:
    """P(a random code of ``a`` active out of ``n`` units shares >= ``theta`` with ``s`` units).

    Ahmad & Scheinkman (2019), eq. 3: ``P = sum_{b=theta}^{s} |Omega(n, a, b)| / C(n, a)`` with
    ``|Omega(n, a, b)| = C(s, b) C(n - s, a - b)`` the codes overlapping the pattern in exactly
    ``b`` units. Computed with exact integers and rounded once to float (so a probability
    below ~1e-308 is 0.0; :func:`log_false_match_probability` keeps it).

    Example:
        >>> false_match_probability(4, 2, 2, 1)  # 5 of the C(4, 2) = 6 pairs share a unit
        0.8333333333333334
        >>> false_match_probability(1024, 32, 32, 16) < 1e-15
        True
        >>> false_match_probability(10, 3, 2, 3), false_match_probability(10, 3, 2, 0)
        (0.0, 1.0)
    """
    n, a, s, theta = _check_nast(n, a, s, theta)
    num, den = _match_counts(n, a, s, theta)
    return float(Fraction(num, den))


def log_false_match_probability(n: int, a: int, s: int, theta: int) -> float:
    """The natural log of :func:`false_match_probability`, exact before the log (-inf for 0).

    Example:
        >>> round(log_false_match_probability(100000, 2000, 2000, 400), 1)  # P ~ 1e-276
        -635.9
    """
    n, a, s, theta = _check_nast(n, a, s, theta)
    num, den = _match_counts(n, a, s, theta)
    return math.log(num) - math.log(den) if num else float("-inf")


def false_match_curve(n: int, a: int, s: int) -> list[float]:
    """:func:`false_match_probability` for every ``theta`` in ``0 .. min(a, s)``, in one pass.

    Example:
        >>> [round(p, 4) for p in false_match_curve(4, 2, 2)]
        [1.0, 0.8333, 0.1667]
    """
    n, a, s, _ = _check_nast(n, a, s, 0)
    den = math.comb(n, a)
    terms = [math.comb(s, b) * math.comb(n - s, a - b) for b in range(min(s, a) + 1)]
    out, tail = [], 0
    for term in reversed(terms):
        tail += term
        out.append(float(Fraction(tail, den)))
    return out[::-1]


def random_jaccard(n: int, k: int) -> float:
    """Expected Jaccard index of two independent uniformly random ``k``-of-``n`` codes.

    The overlap ``b`` is hypergeometric; ``E[b / (2k - b)]`` is summed exactly over ``b`` (in
    log space). About ``d / (2 - d)`` with ``d = k / n``; NaN for ``k = 0``.

    Example:
        >>> round(random_jaccard(4, 2), 12)  # overlap 0 (1/6), 1 (4/6, J=1/3), 2 (1/6, J=1)
        0.388888888889
        >>> round(random_jaccard(10000, 100), 5)  # d / (2 - d) = 0.00503
        0.00505
    """
    n, k, _, _ = _check_nast(n, k, k, 0)
    if k == 0:
        return float("nan")
    b = torch.arange(max(0, 2 * k - n), k + 1, dtype=torch.float64)

    def log_comb(top: float, bottom: Tensor) -> Tensor:
        return (math.lgamma(top + 1) - torch.lgamma(bottom + 1)
                - torch.lgamma(top - bottom + 1))

    kk = torch.tensor(float(k), dtype=torch.float64)
    log_p = log_comb(k, b) + log_comb(n - k, k - b) - log_comb(n, kk)
    return float((log_p.exp() * b / (2 * k - b)).sum())


# ---- Jaccard overlap of codes ---------------------------------------------------------------

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
    units = codes.shape[1]
    d = float(codes.double().mean()) if density is None else density
    return Overlap(
        matrix, _nanmean(matrix.diagonal()), _nanmean(matrix[off]), d,
        random_jaccard(units, round(d * units)), chance_rates,
        tuple(int(c) for c in classes), tuple(int(n) for n in onehot.sum(0)), units)


def _nanmean(t: Tensor) -> float:
    ok = ~torch.isnan(t)
    return float(t[ok].mean()) if bool(ok.any()) else float("nan")


# ---- streaming: a seeded reservoir of codes per class ----------------------------------------

class ClassSampler:
    """A uniform random sample of ``per_class`` codes per class and layer, kept streaming.

    Reservoir sampling (Algorithm R) with a generator seeded by ``seed`` per layer: every layer
    keeps the same samples. Stores the active sets (``|a| > threshold``) as bool, and with
    ``keep_values`` the values too (float16, for :func:`overlap_vs_density`); counts the
    active units of every labelled sample for the layer's density and firing rates.

    Example:
        >>> sampler = ClassSampler(per_class=2, seed=0)
        >>> sampler.update("fc", torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]]),
        ...                torch.tensor([0, 1, 0]))
        >>> sampler.overlaps()["fc"].within
        1.0
    """

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
        self._codes: dict[str, dict[int, Tensor]] = {}
        self._values: dict[str, dict[int, Tensor]] = {}
        self._ids: dict[str, dict[int, list[int]]] = {}
        self._seen: dict[str, dict[int, int]] = {}
        self._gen: dict[str, torch.Generator] = {}
        self._active: dict[str, Tensor] = {}  # per-unit active counts, float64
        self._samples: dict[str, int] = {}

    def update(self, layer: str, x: Tensor, labels: Tensor | None, mask: Tensor | None = None,
               offset: int = 0) -> None:
        """Add one batch of ``layer``'s output ``x`` with its ``labels`` (-1: skipped)."""
        if labels is None:
            raise ValueError(f"layer {layer!r}: class overlap needs labels for every batch")
        flat = (per_sample_units(x, mask) if x.dim() == 3 else x.flatten(1)).cpu()  # (B, U)
        active = flat.abs() > self.threshold
        if layer not in self._codes:
            self._codes[layer], self._values[layer], self._ids[layer] = {}, {}, {}
            self._seen[layer] = {}
            self._gen[layer] = torch.Generator().manual_seed(self.seed)
            self._active[layer] = torch.zeros(flat.shape[1], dtype=torch.float64)
            self._samples[layer] = 0
        elif self._active[layer].numel() != flat.shape[1]:
            raise ValueError(f"layer {layer!r} had {self._active[layer].numel()} units and "
                             f"now has {flat.shape[1]}")
        keep = labels >= 0
        self._active[layer] += active[keep].double().sum(0)
        self._samples[layer] += int(keep.sum())
        for b in torch.nonzero(keep).flatten().tolist():
            self._offer(layer, int(labels[b]), active[b], flat[b], offset + b)

    def _offer(self, layer: str, label: int, code: Tensor, values: Tensor, sample: int) -> None:
        seen = self._seen[layer].get(label, 0)
        self._seen[layer][label] = seen + 1
        if seen < self.per_class:
            slot = seen
            if seen == 0:
                units = code.numel()
                self._codes[layer][label] = torch.zeros(self.per_class, units, dtype=torch.bool)
                if self.keep_values:
                    self._values[layer][label] = torch.zeros(self.per_class, units,
                                                             dtype=torch.float16)
                self._ids[layer][label] = [-1] * self.per_class
        else:
            slot = int(torch.randint(seen + 1, (1,), generator=self._gen[layer]))
            if slot >= self.per_class:
                return
        self._codes[layer][label][slot] = code
        if self.keep_values:
            self._values[layer][label][slot] = values.to(torch.float16)
        self._ids[layer][label][slot] = sample

    def codes(self, layer: str) -> tuple[Tensor, Tensor, Tensor]:
        """``(codes (N, units) bool, labels (N,), sample indices (N,))`` kept for ``layer``."""
        if not self._codes.get(layer):
            raise ValueError(f"no labelled samples (labels >= 0) of layer {layer!r} were seen")
        parts, labels, ids = [], [], []
        for label in sorted(self._codes[layer]):
            n = min(self._seen[layer][label], self.per_class)
            parts.append(self._codes[layer][label][:n])
            labels += [label] * n
            ids += self._ids[layer][label][:n]
        return torch.cat(parts), torch.tensor(labels), torch.tensor(ids)

    def values(self, layer: str) -> Tensor:
        """The kept values ``(N, units)`` float32 in the order of :meth:`codes`."""
        if not self.keep_values:
            raise ValueError("this sampler keeps no values: create it with keep_values=True")
        return torch.cat([self._values[layer][label][:min(self._seen[layer][label],
                                                          self.per_class)].float()
                          for label in sorted(self._values[layer])])

    @property
    def layers(self) -> list[str]:
        return list(self._codes)

    def rates(self, layer: str) -> Tensor:
        """(units,) fraction of labelled samples in which each unit was active."""
        return self._active[layer] / max(self._samples[layer], 1)

    def overlaps(self) -> dict[str, Overlap]:
        """The :class:`Overlap` of every layer, from the kept codes and all samples' density."""
        if not self._codes:
            raise ValueError("no labelled samples were seen: nothing to compute overlap of")
        out = {}
        for layer in self._codes:
            codes, labels, _ = self.codes(layer)
            p = self.rates(layer)
            expected_union = float((2 * p - p * p).sum())
            rates = float((p * p).sum()) / expected_union if expected_union > 0 else math.nan
            out[layer] = overlap_from_codes(codes, labels, density=float(p.mean()),
                                            chance_rates=rates)
        return out

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
