"""The profile report's figures, one function per figure, each reading only a Profile.

Every function returns a matplotlib ``Figure`` (Agg, no pyplot) and copes with layers whose
statistics are NaN: a layer that saw no data, or whose every value was NaN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from actsparse.measure.layer import LayerProfile
from actsparse.measure.profile import Profile
from actsparse.report.figures import grid, label, new_figure, spread

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

ROW_INCHES = 0.28  # height of one layer's row in the per-layer bar charts
RATE_BINS = 20  # bins of a firing-rate histogram over [0, 1]


def _finite(values: list[float]) -> np.ndarray:
    return np.nan_to_num(np.asarray(values, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)


def _rows_height(n: int) -> float:
    return 1.4 + ROW_INCHES * n


def density_figure(profile: Profile) -> Figure:
    """Per-layer density (bars) with the near-zero fractions ``|a| < t`` beside it (markers).

    Soft-sparse layers (GELU, SiLU) have a density near 1 and yet many values near zero; the
    markers show that. A layer with no data gets no bar.

    Example:
        >>> import torch, actsparse
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU())
        >>> fig = density_figure(actsparse.profile(net, [torch.randn(16, 4)]))
        >>> fig.axes[0].get_xlabel()
        'fraction of activations'
    """
    layers = list(profile)
    y = np.arange(len(layers))
    fig = new_figure(8, _rows_height(len(layers)))
    ax = fig.add_subplot()
    ax.barh(y, _finite([lp.density for lp in layers]), color="#4c72b0", label="density (active)")
    markers = "o^sDv<>p"
    for i, t in enumerate(profile.config.near_zero):
        values = [lp.near_zero(t) for lp in layers]
        ax.plot(values, y, linestyle="none", marker=markers[i % len(markers)], color=f"C{i + 1}",
                label=f"near zero |a| < {t:g}")
    _layer_axis(ax, layers)
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of activations")
    ax.grid(axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncol=4, fontsize="small", frameon=False)
    return fig


def firing_rate_figure(profile: Profile) -> Figure:
    """Small multiples: per layer, the histogram of its units' firing rates over [0, 1].

    A unit's firing rate is the fraction of (sample, position) pairs where it is active;
    a spike at 0 is dead units, a spike at 1 units that are always on. At most 48 layers are
    drawn, evenly spaced through the model.

    Example:
        >>> import torch, actsparse
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        >>> len(firing_rate_figure(actsparse.profile(net, [torch.randn(16, 4)])).axes)
        1
    """
    layers = spread(list(profile))
    rows, cols = grid(len(layers))
    fig = new_figure(2.0 * cols + 0.5, 1.6 * rows + 0.4)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, lp in zip(axes.flat, layers, strict=False):
        rate = lp.firing_rate().numpy()
        rate = rate[np.isfinite(rate)].clip(0.0, 1.0)
        ax.hist(rate, bins=RATE_BINS, range=(0.0, 1.0), color="#4c72b0")
        ax.set_title(label(lp.name, 24), fontsize="small")
        ax.set_xlim(0, 1)
        ax.tick_params(labelsize="x-small")
        dead = int(lp.dead_units().numel())
        if dead:
            ax.set_ylim(top=ax.get_ylim()[1] * 1.25)  # room for the label above the bars
            ax.text(0.98, 0.95, f"{dead} dead", transform=ax.transAxes, ha="right", va="top",
                    fontsize="x-small", color="#c44e52")
    for ax in list(axes.flat)[len(layers):]:
        ax.set_axis_off()
    fig.supxlabel("firing rate (fraction of samples x positions active)", fontsize="small")
    fig.supylabel("units", fontsize="small")
    return fig


def dead_units_figure(profile: Profile) -> Figure:
    """Per-layer fraction of units never active on the data seen, labelled ``dead/units``.

    Example:
        >>> import torch, actsparse
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        >>> fig = dead_units_figure(actsparse.profile(net, [torch.randn(16, 4)]))
        >>> [float(x) for x in fig.axes[0].get_xlim()]
        [0.0, 1.0]
    """
    layers = list(profile)
    y = np.arange(len(layers))
    dead = [int(lp.dead_units().numel()) for lp in layers]
    fraction = [d / max(lp.units, 1) for d, lp in zip(dead, layers, strict=True)]
    fig = new_figure(8, _rows_height(len(layers)))
    ax = fig.add_subplot()
    ax.barh(y, fraction, color="#c44e52")
    for yi, d, f, lp in zip(range(len(layers)), dead, fraction, layers, strict=True):
        ax.text(min(f, 0.85) + 0.01, yi, f"{d}/{lp.units}", va="center", fontsize="x-small")
    _layer_axis(ax, layers)
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("fraction of units never active")
    ax.grid(axis="x", alpha=0.3)
    return fig


def population_density_figure(profile: Profile) -> Figure:
    """Heat map of each layer's per-sample density distribution (one row per layer).

    A cell is the fraction of the layer's samples whose population density (fraction of the
    layer's values active for that one sample) falls in that bin; the white dot is the
    layer's overall density.

    Example:
        >>> import torch, actsparse
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        >>> prof = actsparse.profile(net, [torch.randn(16, 4)])
        >>> population_density_figure(prof).axes[0].get_xlabel()
        'per-sample density'
    """
    layers = list(profile)
    hist = np.stack([lp.state["sample_density_hist"].double().numpy() for lp in layers])
    share = hist / np.maximum(hist.sum(axis=1, keepdims=True), 1.0)
    fig = new_figure(8, _rows_height(len(layers)) + 0.4)
    ax = fig.add_subplot()
    image = ax.imshow(share, aspect="auto", cmap="viridis", vmin=0.0, interpolation="nearest",
                      extent=(0.0, 1.0, len(layers) - 0.5, -0.5))
    ax.plot([lp.density for lp in layers], np.arange(len(layers)), linestyle="none",
            marker="o", markersize=4, color="white", markeredgecolor="black")
    _layer_axis(ax, layers)
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("per-sample density")
    fig.colorbar(image, ax=ax, label="fraction of samples", shrink=0.8)
    return fig


def union_figure(profile: Profile) -> Figure:
    """Batch-union density against B: the fraction of units active in any of B samples.

    It bounds what a kernel that skips inactive units shared by a batch of B can skip. Points
    are missing where fewer than B samples were seen.

    Example:
        >>> import torch, actsparse
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        >>> union_figure(actsparse.profile(net, [torch.randn(16, 4)])).axes[0].get_xscale()
        'log'
    """
    layers = list(profile)
    sizes = [int(b) for b in profile.config.union_sizes]
    fig = new_figure(7, 4.2)
    ax = fig.add_subplot()
    many = len(layers) > 10
    for i, lp in enumerate(layers):
        union = lp.union_density()
        color = _depth_color(i, len(layers)) if many else f"C{i % 10}"
        ax.plot(sizes, [union[b] for b in sizes], marker="o", color=color,
                label=None if many else label(lp.name))
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(b) for b in sizes])
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("B (samples in a batch)")
    ax.set_ylabel("union density")
    ax.grid(alpha=0.3)
    if many:
        _depth_colorbar(fig, ax, len(layers))
    elif layers:
        ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return fig


def spatial_figure(profile: Profile) -> Figure | None:
    """Small multiples: per conv layer, the firing rate at each position (None if no conv layer).

    The map is averaged over samples and channels; 3D maps are averaged over depth and 1D
    maps drawn as one row.

    Example:
        >>> import torch, actsparse
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU())
        >>> fig = spatial_figure(actsparse.profile(net, [torch.randn(4, 1, 10, 10)]))
        >>> fig.axes[0].images[0].get_array().shape
        (8, 8)
    """
    maps = [(lp, _as_2d(lp)) for lp in profile]
    shown = spread([(lp, m) for lp, m in maps if m is not None])
    if not shown:
        return None
    rows, cols = grid(len(shown), 5)
    fig = new_figure(2.3 * cols + 0.3, 2.0 * rows + 0.3)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (lp, image) in zip(axes.flat, shown, strict=False):
        top = float(np.nanmax(image)) if np.isfinite(image).any() else 1.0
        drawn = ax.imshow(image, cmap="magma", vmin=0.0, vmax=max(top, 1e-12),
                          interpolation="nearest")
        ax.set_title(label(lp.name, 24), fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
        bar = fig.colorbar(drawn, ax=ax, shrink=0.8)
        bar.ax.tick_params(labelsize="x-small")
    for ax in list(axes.flat)[len(shown):]:
        ax.set_axis_off()
    return fig


def _layer_axis(ax: Axes, layers: list[LayerProfile]) -> None:
    """One row per layer, the first at the top, no empty margin above or below."""
    ax.set_yticks(range(len(layers)), [label(lp.name) for lp in layers])
    ax.set_ylim(len(layers) - 0.5, -0.5)


def _as_2d(layer: LayerProfile) -> np.ndarray | None:
    rate = layer.spatial_map()
    if rate is None:
        return None
    array = rate.numpy()
    if array.ndim == 1:
        return array[None, :]
    while array.ndim > 2:
        array = array.mean(axis=0)
    return array


def _depth_color(i: int, n: int) -> tuple[float, float, float, float]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return tuple(cmap(i / max(n - 1, 1)))  # type: ignore[return-value]


def _depth_colorbar(fig: Figure, ax: Axes, n: int) -> None:
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    mappable = ScalarMappable(Normalize(0, max(n - 1, 1)), colormaps["viridis"])
    fig.colorbar(mappable, ax=ax, label="layer index (input to output)")


__all__ = [
    "dead_units_figure",
    "density_figure",
    "firing_rate_figure",
    "population_density_figure",
    "spatial_figure",
    "union_figure",
]
