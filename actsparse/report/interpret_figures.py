"""The figures of the interpret page: selectivity, preferred classes, overlap matrices, overlap
against density, false-match probability and galleries of top image patches.

They are public so that studies and benchmarks draw the same plots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from actsparse.interpret.overlap import Overlap, false_match_curve
from actsparse.interpret.selectivity import Selectivity
from actsparse.report.figures import grid, label, new_figure, spread

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_LAYERS = 12  # panels per figure; layers are thinned evenly beyond this
FALSE_MATCH_SETTINGS = ((256, 8), (1024, 32), (1024, 128), (4096, 64))  # (n, a), s = a


@dataclass
class UnitExamples:
    """The top examples of one unit: image patches or text snippets, best first.

    ``snippets`` are ``(before, token, after)`` strings; the token is shown marked.

    Example:
        >>> UnitExamples(3, "unit 3", [2.0], snippets=[("the ", "cat", " sat")]).images
        []
    """

    unit: int
    caption: str
    values: list[float]
    images: list[Tensor] = field(default_factory=list)
    snippets: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Gallery:
    """Top examples of a few units of one layer.

    Example:
        >>> Gallery("conv1", "receptive field 3x3", [UnitExamples(0, "unit 0", [1.0])]).layer
        'conv1'
    """

    layer: str
    note: str
    units: list[UnitExamples]


def _thin(names: Sequence[str]) -> list[str]:
    return spread(list(names), MAX_LAYERS)


def selectivity_figure(selectivity: Mapping[str, Selectivity]) -> Figure:
    """Histogram of the class-selectivity index of each layer's units that fired.

    Example:
        >>> from actsparse.interpret.selectivity import SelectivityState
        >>> state = SelectivityState(num_classes=2)
        >>> state.update("fc", torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1]))
        >>> len(selectivity_figure(state.compute()).axes)
        1
    """
    names = _thin(list(selectivity))
    rows, cols = grid(len(names), 4)
    fig = new_figure(3.0 * cols, 2.3 * rows)
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        sel = selectivity[name]
        idx = sel.index[sel.fired].numpy()
        ax.hist(idx, bins=20, range=(0.0, 1.0), color="#1f77b4")
        if idx.size:
            ax.axvline(sel.mean_index, color="#d62728", lw=1.2)
        ax.set_title(f"{label(name, 28)}\nmean {sel.mean_index:.2f}, "
                     f"{idx.size}/{sel.index.numel()} fired", fontsize=9)
        ax.set_xlabel("selectivity index", fontsize=8)
        ax.set_ylabel("units", fontsize=8)
        ax.tick_params(labelsize=7)
    return fig


def preferred_figure(selectivity: Mapping[str, Selectivity]) -> Figure:
    """How many units of each layer prefer each class.

    Example:
        >>> from actsparse.interpret.selectivity import SelectivityState
        >>> state = SelectivityState(num_classes=2)
        >>> state.update("fc", torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1]))
        >>> preferred_figure(state.compute()).axes[0].get_xlabel()
        'preferred class'
    """
    names = _thin(list(selectivity))
    rows, cols = grid(len(names), 4)
    fig = new_figure(3.0 * cols, 2.3 * rows)
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        sel = selectivity[name]
        counts = torch.bincount(sel.preferred[sel.fired], minlength=sel.counts.numel())
        ax.bar(range(counts.numel()), counts.numpy(), color="#2ca02c")
        ax.set_title(label(name, 28), fontsize=9)
        ax.set_xlabel("preferred class", fontsize=8)
        ax.set_ylabel("units", fontsize=8)
        ax.tick_params(labelsize=7)
    return fig


def overlap_figure(overlaps: Mapping[str, Overlap], title: str = "", cols: int = 4) -> Figure:
    """The overlap matrices as heatmaps side by side, on one colour scale.

    Keys label the panels (layer names, or e.g. ``"dense act2"`` and ``"k-WTA act2"`` to put
    two models next to each other); ``cols`` panels per row.

    Example:
        >>> o = Overlap(torch.tensor([[0.5, 0.1], [0.1, 0.4]]), 0.45, 0.1, 0.05, 0.025,
        ...             classes=(0, 1))
        >>> len(overlap_figure({"dense": o, "sparse": o}, "act1").axes)  # 2 panels + colour bar
        3
    """
    names = _thin(list(overlaps))
    rows, cols = grid(len(names), cols)
    fig = new_figure(3.1 * cols + 0.6, 3.0 * rows + (0.3 if title else 0.0))
    top = max((float(torch.nan_to_num(o.matrix, nan=0.0).max()) for o in overlaps.values()),
              default=1.0)
    image = None
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        o = overlaps[name]
        image = ax.imshow(o.matrix.numpy(), vmin=0.0, vmax=max(top, 1e-9), cmap="viridis")
        ticks = range(len(o.classes)) if len(o.classes) <= 20 else []
        ax.set_xticks(list(ticks), [str(o.classes[t]) for t in ticks], fontsize=7)
        ax.set_yticks(list(ticks), [str(o.classes[t]) for t in ticks], fontsize=7)
        ax.set_title(f"{label(name, 30)}\nwithin {o.within:.3f}, between {o.between:.3f}\n"
                     f"density {o.density:.3f}, chance {o.chance:.3f}", fontsize=8)
    if image is not None:
        fig.colorbar(image, ax=fig.axes, shrink=0.8, label="mean Jaccard")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def density_curve_figure(curves: Mapping[str, Sequence[Overlap]]) -> Figure:
    """Mean within- and between-class Jaccard against the fraction of units kept per sample.

    The grey dotted line is the overlap of random codes of the same size.

    Example:
        >>> o = lambda d: Overlap(torch.eye(2), 0.5, 0.1, d, d / 2, d / 2, classes=(0, 1))
        >>> fig = density_curve_figure({"fc": [o(0.1), o(0.5)]})
        >>> len(fig.axes[0].get_lines())  # within, between, random codes
        3
    """
    fig = new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
              "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"]
    chance_drawn = False
    for i, name in enumerate(_thin(list(curves))):
        points = curves[name]
        d = [o.density for o in points]
        c = colors[i % len(colors)]
        ax.plot(d, [o.within for o in points], "-o", color=c, ms=3, label=f"{label(name)} within")
        ax.plot(d, [o.between for o in points], "--s", color=c, ms=3,
                label=f"{label(name)} between")
        if not chance_drawn:
            ax.plot(d, [o.chance for o in points], ":", color="grey", label="random codes")
            chance_drawn = True
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("fraction of units kept per sample (top values)")
    ax.set_ylabel("mean Jaccard overlap")
    ax.legend(fontsize=7, loc="best")
    return fig


def false_match_figure(settings: Sequence[tuple[int, int]] = FALSE_MATCH_SETTINGS) -> Figure:
    """P(false match) against theta for a few ``(n, a)``, with ``s = a`` (Ahmad & Scheinkman).

    Example:
        >>> len(false_match_figure([(64, 8)]).axes)
        1
    """
    fig = new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    for n, a in settings:
        p = false_match_curve(n, a, a)
        thetas = [t for t in range(1, len(p)) if p[t] > 0]
        ax.plot(thetas, [p[t] for t in thetas], "-o", ms=2.5, label=f"n={n}, a=s={a}")
    ax.set_yscale("log")
    ax.set_xlabel("theta (units that must match)")
    ax.set_ylabel("P(random code matches >= theta units)")
    ax.legend(fontsize=8)
    return fig


def gallery_mosaic(gallery: Gallery, cell: int = 40) -> tuple[Tensor, tuple[int, int]]:
    """All patches of ``gallery`` in one ``(H, W, 3)`` image, one row per unit; cell size.

    Each patch is scaled up by a whole factor (nearest) so that cells are about ``cell`` pixels,
    and placed top-left in its cell on a grey ground (patches clipped at the image border are
    smaller than the receptive field).

    Example:
        >>> g = Gallery("l", "", [UnitExamples(0, "u", [1.0, 0.5], [torch.ones(1, 3, 3)] * 2)])
        >>> mosaic, (ch, cw) = gallery_mosaic(g, cell=6)
        >>> tuple(mosaic.shape), (ch, cw)
        ((8, 16, 3), (6, 6))
    """
    patches = [p for u in gallery.units for p in u.images]
    big = max((max(p.shape[1], p.shape[2]) for p in patches), default=1)
    scale = max(1, -(-cell // big))
    ch = max((p.shape[1] for p in patches), default=1) * scale
    cw = max((p.shape[2] for p in patches), default=1) * scale
    rows = max(len(gallery.units), 1)
    cols = max((len(u.images) for u in gallery.units), default=1)
    gap = 2
    mosaic = torch.full((rows * (ch + gap), cols * (cw + gap), 3), 0.85)
    for r, unit in enumerate(gallery.units):
        for c, patch in enumerate(unit.images):
            img = patch.clamp(0, 1).expand(3, -1, -1) if patch.shape[0] == 1 else patch[:3]
            img = img.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
            top, left = r * (ch + gap), c * (cw + gap)
            mosaic[top:top + img.shape[1], left:left + img.shape[2]] = img.permute(1, 2, 0)
    return mosaic, (ch, cw)


def image_gallery_figure(gallery: Gallery) -> Figure:
    """One row per unit: its top image patches, best first, each with its activation.

    Example:
        >>> g = Gallery("l", "", [UnitExamples(0, "u", [1.0, 0.5], [torch.ones(1, 3, 3)] * 2)])
        >>> len(image_gallery_figure(g).axes[0].texts)  # one activation per patch
        2
    """
    mosaic, (ch, cw) = gallery_mosaic(gallery)
    rows = max(len(gallery.units), 1)
    cols = max((len(u.images) for u in gallery.units), default=1)
    width = min(12.0, 1.6 + 0.9 * cols)
    height = max(1.0, width * mosaic.shape[0] / mosaic.shape[1])
    fig = new_figure(width + 1.2, height + 0.2)
    ax = fig.add_subplot()
    ax.imshow(mosaic.numpy(), interpolation="nearest", aspect="auto")  # the figure keeps it
    for r, unit in enumerate(gallery.units):
        for c, value in enumerate(unit.values[:len(unit.images)]):
            ax.text(c * (cw + 2) + 1, r * (ch + 2) + 1, f"{value:.2g}", fontsize=6,
                    color="#d62728", va="top", ha="left",
                    bbox={"facecolor": "white", "alpha": 0.7, "pad": 0.5, "linewidth": 0})
    ax.set_yticks([r * (ch + 2) + ch / 2 for r in range(rows)],
                  [u.caption.replace("\n", ", ") for u in gallery.units], fontsize=7)
    ax.set_xticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    return fig
