"""The study page's figures, each drawn from ``study.json`` (None when it was not measured).

Metrics are read from runs through the study's metric table (passed in as ``metrics``: label,
how to read a run, display scale), so that this module needs nothing from the study package.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import torch

from actsparse.interpret.overlap import Overlap
from actsparse.report.figures import new_figure
from actsparse.report.interpret_figures import overlap_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

COLORS = {"dense": "#444444", "dropout": "#8c8c8c", "l1": "#1f77b4", "hoyer": "#2ca02c",
          "kwta": "#d62728", "sc": "#9467bd"}


class Metric(Protocol):
    """What a page needs of a study metric (:class:`actsparse.study.summary.Metric` is one).

    Example:
        >>> from types import SimpleNamespace
        >>> m: Metric = SimpleNamespace(label="accuracy (%)", read=lambda run: run.get("acc"),
        ...                             digits=2, scale=100.0, unit="")
        >>> m.read({"acc": 0.5}) * m.scale
        50.0
    """

    @property
    def label(self) -> str: ...
    @property
    def read(self) -> Callable[[Mapping[str, Any]], float | None]: ...
    @property
    def digits(self) -> int: ...
    @property
    def scale(self) -> float: ...
    @property
    def unit(self) -> str: ...


def variant_color(variant: str) -> str:
    """The colour a variant has in every study figure.

    Example:
        >>> variant_color("kwta"), variant_color("something new")
        ('#d62728', '#17becf')
    """
    return COLORS.get(variant, "#17becf")


def noise_figure(study: Mapping[str, Any]) -> Figure | None:
    """Mean test accuracy against noise level per variant, the 95% CI as a band.

    None when the study measured no noise curve.

    Example:
        >>> curve = [{"mean": 0.9, "lo": 0.88, "hi": 0.92}, {"mean": 0.7, "lo": None, "hi": None}]
        >>> fig = noise_figure({"noise_curves": {"dense": curve},
        ...                     "noise_protocol": {"levels": [0.0, 0.1]}})
        >>> fig.axes[0].get_ylabel(), noise_figure({})
        ('test accuracy (%)', None)
    """
    curves: Mapping[str, Sequence[Mapping[str, Any]]] = study.get("noise_curves", {})
    levels = (study.get("noise_protocol") or {}).get("levels", [])
    if not curves or not levels or not any(curves.values()):
        return None
    fig = new_figure(7.0, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    for variant, curve in curves.items():
        if not curve:
            continue
        mean = [c["mean"] * 100 for c in curve]
        shade = variant_color(variant)
        ax.plot(levels, mean, marker="o", ms=3, color=shade, label=variant)
        if all(c["lo"] is not None for c in curve):
            ax.fill_between(levels, [c["lo"] * 100 for c in curve],
                            [c["hi"] * 100 for c in curve], color=shade, alpha=0.2)
    ax.set_ylim(0.0, 101.0)
    ax.set_xlabel("noise level (fraction of pixels set to mean + 2 std)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def scatter_figure(study: Mapping[str, Any], metrics: Mapping[str, Metric], x: str, y: str
                   ) -> Figure | None:
    """One point per run of metric ``y`` against metric ``x``, with a cross per variant: its
    mean and 95% CIs over seeds, as the study's summary states them.

    None when no run has both values.

    Example:
        >>> from types import SimpleNamespace
        >>> metrics = {k: SimpleNamespace(label=k, read=lambda r, k=k: r.get(k), digits=3,
        ...                               scale=1.0, unit="") for k in ("density", "accuracy")}
        >>> runs = {"dense": [{"density": 0.5, "accuracy": 0.9}]}
        >>> summary = {"dense": {"density": {"mean": 0.5, "hi": None},
        ...                      "accuracy": {"mean": 0.9, "hi": None}}}
        >>> fig = scatter_figure({"runs": runs, "summary": summary}, metrics, "density",
        ...                      "accuracy")
        >>> fig.axes[0].get_xlabel()
        'density'
    """
    runs: Mapping[str, Sequence[Mapping[str, Any]]] = study.get("runs", {})
    summary: Mapping[str, Mapping[str, Any]] = study.get("summary", {})
    mx, my = metrics[x], metrics[y]
    points: dict[str, list[tuple[float, float]]] = {}
    for v, rs in runs.items():
        pairs = ((mx.read(r), my.read(r)) for r in rs)
        points[v] = [(a, b) for a, b in pairs if a is not None and b is not None]
    if not any(points.values()):
        return None
    fig = new_figure(6.5, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    for variant, ps in points.items():
        if not ps:
            continue
        xs = [a * mx.scale for a, _ in ps]
        ys = [b * my.scale for _, b in ps]
        ax.scatter(xs, ys, s=18, color=variant_color(variant), alpha=0.6, label=variant)
        _mean_cross(ax, summary.get(variant, {}), (x, mx), (y, my), variant_color(variant))
    if y.startswith("speedup"):
        ax.axhline(1.0, color="#999999", ls="--", lw=1)
    ax.set_xlabel(mx.label)
    ax.set_ylabel(my.label)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _mean_cross(ax: Axes, summary: Mapping[str, Any], x: tuple[str, Metric],
                y: tuple[str, Metric], color: str) -> None:
    (kx, mx), (ky, my) = x, y
    sx, sy = summary.get(kx), summary.get(ky)
    if not sx or not sy:
        return
    xerr = (sx["hi"] - sx["mean"]) * mx.scale if sx.get("hi") is not None else 0.0
    yerr = (sy["hi"] - sy["mean"]) * my.scale if sy.get("hi") is not None else 0.0
    ax.errorbar([sx["mean"] * mx.scale], [sy["mean"] * my.scale], xerr=[xerr], yerr=[yerr],
                color=color, marker="x", ms=9, capsize=3, lw=1.2)


def maps_figure(study: Mapping[str, Any]) -> Figure | None:
    """The first test images (top row) and, per variant, the first conv layer's maps.

    None when the study kept no example maps.

    Example:
        >>> image = [[0.0, 1.0], [1.0, 0.0]]
        >>> study = {"examples": {"images": [image], "maps": {"dense": {"act1": [image]}}}}
        >>> len(maps_figure(study).axes), maps_figure({})
        (3, None)
    """
    examples = study.get("examples") or {}
    images, maps = examples.get("images") or [], examples.get("maps") or {}
    maps = {v: m for v, m in maps.items() if m}
    if not images or not maps:
        return None
    k = len(images)
    rows = 1 + len(maps)
    fig = new_figure(1.6 * k + 1.2, 1.6 * rows)
    axes = fig.subplots(rows, k, squeeze=False)
    for j, img in enumerate(images):
        axes[0][j].imshow(img, cmap="gray", vmin=0.0, vmax=1.0)
    axes[0][0].set_ylabel("input", fontsize=8)
    image = None
    for i, (variant, layers) in enumerate(maps.items(), start=1):
        layer = next(iter(layers))
        for j, m in enumerate(layers[layer][:k]):
            image = axes[i][j].imshow(m, cmap="Greys", vmin=0.0, vmax=1.0)
        axes[i][0].set_ylabel(f"{variant}\n{layer}", fontsize=8)
    for ax in fig.axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if image is not None:
        fig.colorbar(image, ax=list(axes[1:, -1]), shrink=0.8, label="fraction active")
    return fig


def class_overlap_figure(study: Mapping[str, Any]) -> Figure | None:
    """Seed 0 of each variant, last hidden layer: the class-overlap matrix as a heat map.

    None when no run measured overlap.

    Example:
        >>> o = {"matrix": [[0.5, None], [0.1, 0.4]], "within": 0.45, "between": 0.1,
        ...      "density": 0.05, "chance": 0.02, "classes": [0, 1]}
        >>> fig = class_overlap_figure({"runs": {"dense": [{"overlap": {"act3": o}}]}})
        >>> len(fig.axes)  # one panel and its colour bar
        2
    """
    found: dict[str, Overlap] = {}
    for variant, rs in (study.get("runs") or {}).items():
        if not rs or not rs[0].get("overlap"):
            continue
        layer, o = list(rs[0]["overlap"].items())[-1]
        matrix = torch.tensor([[math.nan if v is None else v for v in row]
                               for row in o["matrix"]], dtype=torch.float64)
        found[f"{variant} {layer}"] = Overlap(
            matrix, _num(o["within"]), _num(o["between"]), _num(o["density"]),
            _num(o.get("chance")), _num(o.get("chance_rates")), tuple(o.get("classes", ())),
            tuple(o.get("counts", ())), int(o.get("units", 0)))
    if not found:
        return None
    return overlap_figure(found)


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)
