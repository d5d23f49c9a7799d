"""The HTML page of ``actsparse interpret``: selectivity, overlap and top examples.

One self-contained file in the shared page skeleton (CSS inline, plots as base64 PNG, nothing
loaded from anywhere). Every text taken from the model or data (layer names, tokens) is
escaped. The figures are in :mod:`actsparse.report.interpret_figures`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from actsparse.interpret.overlap import Overlap
from actsparse.interpret.selectivity import Selectivity
from actsparse.report.figures import img_tag
from actsparse.report.format import fmt
from actsparse.report.interpret_figures import (
    FALSE_MATCH_SETTINGS,
    MAX_LAYERS,
    Gallery,
    UnitExamples,
    density_curve_figure,
    false_match_figure,
    image_gallery_figure,
    overlap_figure,
    preferred_figure,
    selectivity_figure,
)
from actsparse.report.page import document, facts_table, section, write_page

__all__ = ["FALSE_MATCH_SETTINGS", "MAX_LAYERS", "Gallery", "UnitExamples", "render",
           "write_interpret_page"]

EXTRA_CSS = """
.snippets td { text-align: left; font-family: ui-monospace, Menlo, Consolas, monospace;
               font-size: 12px; white-space: nowrap; }
.snippets td.value { text-align: right; color: #555; }
"""


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
                    + "".join(f"<td>{escape(fmt(c, '.4g'))}</td>" for c in cells) + "</tr>")
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
    parts = [f'<p class="note warn">{escape(n)}</p>' for n in notes]
    table = _summary_table(selectivity, overlaps)
    if table:
        parts.append(section(
            "Summary", table, note="Per layer: the mean class-selectivity index of the units "
            "that fired; the mean Jaccard overlap of active sets within and between classes; "
            "the density of the codes and the overlap of random codes with that density.",
            anchor="summary"))
    if selectivity:
        parts.append(section(
            "Class selectivity", img_tag(selectivity_figure(selectivity),
                                         "selectivity histograms"),
            note="Morcos et al. (2018): (mu_max - mu_-max) / (mu_max + mu_-max) over the "
            "class-conditional mean activations of a unit (a conv channel averaged over "
            "space); 0 responds to all classes alike, 1 to one class only. The red line is "
            "the layer's mean.", anchor="selectivity"))
        parts.append(section(
            "Preferred classes", img_tag(preferred_figure(selectivity), "preferred classes"),
            note="Units of each layer whose largest class mean is each class.",
            anchor="preferred"))
    if overlaps:
        parts.append(section(
            "Overlap of active sets", img_tag(overlap_figure(overlaps), "overlap matrices"),
            note="Mean Jaccard index |A & B| / |A | B| of the active units of two samples, "
            "for samples of the row's and the column's class (diagonal: distinct pairs within "
            "a class). Sparse, class-specific codes have a bright diagonal and a dark rest.",
            anchor="overlap"))
    if curves:
        parts.append(section(
            "Overlap against density", img_tag(density_curve_figure(curves),
                                               "overlap against density"),
            note="Each sample keeps only its top fraction of units; solid: within-class, "
            "dashed: between-class, dotted: random codes of that size. Between-class overlap "
            "far above the dotted line means classes share units.", anchor="density"))
    parts.append(section(
        "False matches", img_tag(false_match_figure(), "false match probability"),
        note="Ahmad & Scheinkman (2019): the probability that a random code with a of n units "
        "active shares at least theta units with a stored pattern of s = a units, "
        "sum_{b >= theta} C(s, b) C(n - s, a - b) / C(n, a), exact. Sparse codes in many "
        "units make chance matches vanishingly rare.", anchor="false-match"))
    if galleries:
        body = []
        for g in galleries:
            if any(u.images for u in g.units):
                body.append(f"<h3>{escape(g.layer)}</h3><p class=\"note\">{escape(g.note)}</p>"
                            + img_tag(image_gallery_figure(g), f"top examples of {g.layer}"))
            else:
                body.append(_text_gallery(g))
        parts.append(section(
            "Top examples", "".join(body), note="The inputs that activate a few units most, "
            "best first, with the peak activation. For conv layers, the receptive field of the "
            "peak position; for token layers, the passage around the peak token (marked).",
            anchor="top-examples"))
    header = facts_table({str(k): fmt(v, ".4g") for k, v in (meta or {}).items()})
    return document(title, parts, header=header, extra_css=EXTRA_CSS)


def write_interpret_page(path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write :func:`render`'s page to ``path`` (a folder gets ``report.html``); atomically.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_interpret_page(d, title="t").name
        'report.html'
    """
    return write_page(path, render(**kwargs))
