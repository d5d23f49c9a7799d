"""The HTML page of ``actsparse interpret``: selectivity, overlap and top examples.

One self-contained file (CSS inline, plots as base64 PNG, nothing loaded from anywhere), in the
style of the profile report. Every text taken from the model or data (layer names, tokens) is
escaped. The figure functions are public so that studies can draw the same plots.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from actsparse._atomic import write_text_atomic
from actsparse.interpret.overlap import Overlap, false_match_curve
from actsparse.interpret.selectivity import Selectivity
from actsparse.report._mpl import grid, label, new_figure, png_data_uri, spread
from actsparse.report.html import CSS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FILE_NAME = "report.html"
MAX_LAYERS = 12  # panels per figure; layers are thinned evenly beyond this
FALSE_MATCH_SETTINGS = ((256, 8), (1024, 32), (1024, 128), (4096, 64))  # (n, a), s = a
EXTRA_CSS = """
mark { background: #ffd54f; padding: 0 2px; border-radius: 2px; }
.snippets td { text-align: left; font-family: ui-monospace, Menlo, Consolas, monospace;
               font-size: 12px; white-space: nowrap; }
.snippets td.value { text-align: right; color: #555; }
"""


@dataclass
class UnitExamples:
    """The top examples of one unit: image patches or text snippets, best first.

    ``snippets`` are ``(before, token, after)`` strings; the token is shown marked.
    """

    unit: int
    caption: str
    values: list[float]
    images: list[Tensor] = field(default_factory=list)
    snippets: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Gallery:
    """Top examples of a few units of one layer."""

    layer: str
    note: str
    units: list[UnitExamples]


# ---- figures ---------------------------------------------------------------------------------

def _thin(names: Sequence[str]) -> list[str]:
    return spread(list(names), MAX_LAYERS)


def selectivity_figure(selectivity: Mapping[str, Selectivity]) -> Figure:
    """Histogram of the class-selectivity index of each layer's units that fired."""
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
    """How many units of each layer prefer each class."""
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
    """One row per unit: its top image patches, best first, each with its activation."""
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


# ---- the page ---------------------------------------------------------------------------------

def _section(title: str, note: str, body: str, anchor: str = "") -> str:
    ident = f' id="{escape(anchor)}"' if anchor else ""
    return (f"<section{ident}><h2>{escape(title)}</h2><p class=\"note\">{escape(note)}</p>"
            f"{body}</section>")


def _img(fig: Figure, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="{png_data_uri(fig)}">'


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "-" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def _summary_table(selectivity: Mapping[str, Selectivity] | None,
                   overlaps: Mapping[str, Overlap] | None) -> str:
    names = list(dict.fromkeys([*(selectivity or {}), *(overlaps or {})]))
    if not names:
        return ""
    head = ["layer", "units", "mean selectivity", "within", "between", "density", "chance",
            "between / chance"]
    rows = []
    for name in names:
        s = (selectivity or {}).get(name)
        o = (overlaps or {}).get(name)
        cells = [s.index.numel() if s is not None else (o.units if o is not None else "-"),
                 s.mean_index if s is not None else "-"]
        cells += ([o.within, o.between, o.density, o.chance, o.between_over_chance]
                  if o is not None else ["-"] * 5)
        rows.append(f'<tr><td class="name">{escape(name)}</td>'
                    + "".join(f"<td>{escape(_fmt(c))}</td>" for c in cells) + "</tr>")
    header = "".join(f'<th class="name">{h}</th>' if i == 0 else f"<th>{escape(h)}</th>"
                     for i, h in enumerate(head))
    return (f'<div class="scroll"><table><thead><tr>{header}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _text_gallery(gallery: Gallery) -> str:
    rows = []
    for unit in gallery.units:
        for j, ((before, token, after), value) in enumerate(
                zip(unit.snippets, unit.values, strict=False)):
            name = escape(unit.caption) if j == 0 else ""
            rows.append(f"<tr><td>{name}</td><td class=\"value\">{value:.3g}</td>"
                        f"<td>{escape(before)}<mark>{escape(token)}</mark>{escape(after)}</td>"
                        "</tr>")
    return (f"<h3>{escape(gallery.layer)}</h3><p class=\"note\">{escape(gallery.note)}</p>"
            f'<div class="scroll"><table class="snippets">{"".join(rows)}</table></div>')


def _meta_table(meta: Mapping[str, Any]) -> str:
    cells = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(_fmt(v))}</td></tr>"
                    for k, v in meta.items())
    return f'<table class="meta">{cells}</table>'


def render(
    *,
    title: str,
    meta: Mapping[str, Any] | None = None,
    selectivity: Mapping[str, Selectivity] | None = None,
    overlaps: Mapping[str, Overlap] | None = None,
    curves: Mapping[str, Sequence[Overlap]] | None = None,
    galleries: Sequence[Gallery] = (),
    notes: Sequence[str] = (),
) -> str:
    """The page's HTML (what :func:`write_interpret_page` writes).

    Example:
        >>> page = render(title="a <b>", notes=["no labels"])
        >>> "<title>a &lt;b&gt;</title>" in page, "False matches" in page
        (True, True)
    """
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}{EXTRA_CSS}</style></head><body>",
        f"<header><h1>{escape(title)}</h1>{_meta_table(meta or {})}</header>",
    ]
    parts += [f'<p class="note warn">{escape(n)}</p>' for n in notes]
    table = _summary_table(selectivity, overlaps)
    if table:
        parts.append(_section(
            "Summary", "Per layer: the mean class-selectivity index of the units that fired; "
            "the mean Jaccard overlap of active sets within and between classes; the density "
            "of the codes and the overlap of random codes with that density.", table,
            "summary"))
    if selectivity:
        parts.append(_section(
            "Class selectivity", "Morcos et al. (2018): (mu_max - mu_-max) / (mu_max + "
            "mu_-max) over the class-conditional mean activations of a unit (a conv channel "
            "averaged over space); 0 responds to all classes alike, 1 to one class only. The "
            "red line is the layer's mean.",
            _img(selectivity_figure(selectivity), "selectivity histograms"), "selectivity"))
        parts.append(_section(
            "Preferred classes", "Units of each layer whose largest class mean is each class.",
            _img(preferred_figure(selectivity), "preferred classes"), "preferred"))
    if overlaps:
        parts.append(_section(
            "Overlap of active sets", "Mean Jaccard index |A & B| / |A | B| of the active "
            "units of two samples, for samples of the row's and the column's class (diagonal: "
            "distinct pairs within a class). Sparse, class-specific codes have a bright "
            "diagonal and a dark rest.", _img(overlap_figure(overlaps), "overlap matrices"),
            "overlap"))
    if curves:
        parts.append(_section(
            "Overlap against density", "Each sample keeps only its top fraction of units; "
            "solid: within-class, dashed: between-class, dotted: random codes of that size. "
            "Between-class overlap far above the dotted line means classes share units.",
            _img(density_curve_figure(curves), "overlap against density"), "density"))
    parts.append(_section(
        "False matches", "Ahmad & Scheinkman (2019): the probability that a random code with "
        "a of n units active shares at least theta units with a stored pattern of s = a "
        "units, sum_{b >= theta} C(s, b) C(n - s, a - b) / C(n, a), exact. Sparse codes in "
        "many units make chance matches vanishingly rare.",
        _img(false_match_figure(), "false match probability"), "false-match"))
    if galleries:
        body = []
        for g in galleries:
            if any(u.images for u in g.units):
                body.append(f"<h3>{escape(g.layer)}</h3><p class=\"note\">{escape(g.note)}</p>"
                            + _img(image_gallery_figure(g), f"top examples of {g.layer}"))
            else:
                body.append(_text_gallery(g))
        parts.append(_section(
            "Top examples", "The inputs that activate a few units most, best first, with the "
            "peak activation. For conv layers, the receptive field of the peak position; for "
            "token layers, the passage around the peak token (marked).", "".join(body),
            "top-examples"))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_interpret_page(path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write :func:`render`'s page to ``path`` (a folder gets ``report.html``); atomically.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_interpret_page(d, title="t").name
        'report.html'
    """
    target = Path(path)
    if target.suffix.lower() not in (".html", ".htm"):
        target = target / FILE_NAME
    page = render(**kwargs)
    return write_text_atomic(target, page)
