"""The profile report: one self-contained HTML page of a Profile, plots embedded as PNG.

The page loads nothing from anywhere: no scripts, no fonts, no external images. All text taken
from the profile (layer names, metadata) is escaped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actsparse.measure.examples import Examples
from actsparse.measure.layer import LayerProfile
from actsparse.measure.profile import Profile
from actsparse.report import profile_figures as plots
from actsparse.report.figures import MAX_PANELS, img_tag
from actsparse.report.format import fmt, shape_text, union_sizes_shown
from actsparse.report.overlay import MAX_LAYERS, overlay_figure
from actsparse.report.page import document, facts_table, section, write_page
from actsparse.report.spectrogram_overlay import spectrogram_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

GLOSSARY = [
    ("density", "fraction of activations that are active (a != 0, or |a| above the threshold)."),
    ("zero", "fraction of exact zeros; near zero |a| < t: fraction below t (zeros included)."),
    ("Hoyer", "per-sample (sqrt(n) - L1/L2) / (sqrt(n) - 1), averaged: 0 dense, 1 one-hot."),
    ("Gini", "Gini index of all |a| of the layer: 0 all equal, 1 all mass in one value."),
    ("Treves-Rolls", "per-sample (mean |a|)^2 / mean a^2, averaged: low means sparse."),
    ("dead", "units never active on the data seen."),
    ("union@B", "fraction of units active in at least one of B consecutive samples: what a "
                "kernel skipping units inactive across a batch of B could skip; '-' when fewer "
                "than B samples were seen."),
]


@dataclass(frozen=True)
class _Plot:
    title: str
    note: str
    figure: Figure


def write_report(
    profile: Profile,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    examples: Examples | None = None,
    examples_note: str | None = None,
) -> Path:
    """Write a self-contained HTML report of ``profile`` and return its path.

    ``path`` ending in ``.html`` or ``.htm`` is the file; otherwise it is a folder that gets a
    ``report.html``. Missing folders are created; the file is written to a temporary name and
    renamed, so a failure leaves no partial report.

    The report holds the profile's metadata, a per-layer table and six kinds of plot: density
    with near-zero fractions, firing-rate histograms, dead units, per-sample density, union
    density against B and (for conv layers) spatial firing maps; with ``examples`` (see
    :func:`actsparse.report.example_maps`), also real input images (or, for
    ``kind="spectrogram"``, log-mel spectrograms with their words) with each conv layer's
    firing map laid over them; ``examples_note`` says why none are shown where they cannot be.
    Needs matplotlib (``pip install actsparse[report]``).

    Example:
        >>> import tempfile, torch, actsparse
        >>> from actsparse.report import write_report
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        >>> prof = actsparse.profile(net, [torch.randn(16, 4)])
        >>> with tempfile.TemporaryDirectory() as d:
        ...     out = write_report(prof, d + "/runs/first")
        ...     print(out.name, "<img" in out.read_text())
        report.html True
    """
    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be an actsparse Profile, got {type(profile).__name__}")
    if len(profile) == 0:
        raise ValueError("the profile has no layers: there is nothing to report")
    return write_page(path, render(profile, title=title, examples=examples,
                                   examples_note=examples_note))


def render(profile: Profile, *, title: str | None = None, examples: Examples | None = None,
           examples_note: str | None = None) -> str:
    """The report's HTML as a string (what :func:`write_report` writes).

    Example:
        >>> import torch, actsparse
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        >>> page = render(actsparse.profile(net, [torch.randn(16, 4)]), title="a <b>")
        >>> "<title>a &lt;b&gt;</title>" in page
        True
    """
    heading = title if title is not None else f"actsparse report: {profile.meta.get('model', '')}"
    sections = [
        _layer_table(profile),
        *(section(p.title, img_tag(p.figure, p.title), note=p.note)
          for p in _plots(profile, examples)),
        *([section("Active units over example inputs", "", note=examples_note)]
          if examples_note else []),
        _glossary(),
    ]
    return document(heading, sections, header=_meta_table(profile))


def _plots(profile: Profile, examples: Examples | None) -> list[_Plot]:
    n = len(profile)
    thinned = f" Showing {MAX_PANELS} of {n} layers, evenly spaced." if n > MAX_PANELS else ""
    near = ", ".join(f"{t:g}" for t in profile.config.near_zero)
    found = [
        _Plot("Density and near-zero fractions",
              f"Bars: density. Markers: fraction of values with |a| below {near}. Soft-sparse "
              "layers (GELU, SiLU) have density near 1 yet many values near zero.",
              plots.density_figure(profile)),
        _Plot("Firing rates of units",
              "Per layer, how many units fire how often. A spike at 0 is dead units, a spike "
              "at 1 units that are always on." + thinned,
              plots.firing_rate_figure(profile)),
        _Plot("Dead units",
              "Fraction of each layer's units never active on the data seen.",
              plots.dead_units_figure(profile)),
        _Plot("Per-sample (population) density",
              "Distribution over samples of the fraction of a layer's values active for that "
              "sample; the dot is the layer's overall density.",
              plots.population_density_figure(profile)),
        _Plot("Batch-union density against B",
              "Fraction of units active in at least one of B samples; missing points: fewer "
              "than B samples were seen.",
              plots.union_figure(profile)),
    ]
    spatial = plots.spatial_figure(profile)
    if spatial is not None:
        conv = sum(lp.spatial_map() is not None for lp in profile)
        more = f" Showing {MAX_PANELS} of {conv} layers." if conv > MAX_PANELS else ""
        found.append(_Plot("Spatial firing maps",
                           "Per conv layer, the firing rate at each position, averaged over "
                           "samples and channels." + more, spatial))
    if examples is not None:
        more = (f" Showing {MAX_LAYERS} of {len(examples.names)} layers."
                if len(examples.names) > MAX_LAYERS else "")
        if examples.kind == "spectrogram":
            found.append(_Plot("Active units over example spectrograms",
                               "Per clip (its word on the left), the log-mel spectrogram "
                               "(time across, mel bands up) and, per conv layer, the fraction "
                               "of its channels active at each time-frequency cell, upsampled "
                               "and laid over it: transparent where no channel is active, "
                               "brightest at the column's largest value." + more,
                               spectrogram_figure(examples)))
        else:
            found.append(_Plot("Firing maps over example images",
                               "Each conv layer's fraction of active channels per position, "
                               "for each image, upsampled and laid over it (column scale: 0 "
                               "to the column's largest value)." + more,
                               overlay_figure(examples)))
    return found


def _meta_table(profile: Profile) -> str:
    rows = dict(profile.meta)
    samples = max((lp.samples for lp in profile), default=0)
    rows.setdefault("layers", len(profile))
    rows.setdefault("samples", samples)
    config = profile.config
    rows["active when"] = (
        f"|a| > {config.active_threshold:g}" if config.active_threshold > 0 else "a != 0"
    )
    rows["near-zero thresholds"] = ", ".join(f"{t:g}" for t in config.near_zero)
    rows["union sizes B"] = ", ".join(str(b) for b in config.union_sizes)
    return facts_table({str(key): _text(value) for key, value in rows.items()})


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _layer_table(profile: Profile) -> str:
    config = profile.config
    sizes = union_sizes_shown(config.union_sizes)
    headers = (
        ["layer", "shape", "samples", "density", "zero"]
        + [f"|a|&lt;{t:g}" for t in config.near_zero]
        + ["Hoyer", "Gini", "Treves-Rolls", "dead"]
        + [f"union@{b}" for b in sizes]
        + ["NaN / Inf"]
    )
    head = "".join(
        f'<th class="name">{h}</th>' if i == 0 else f"<th>{h}</th>" for i, h in enumerate(headers)
    )
    body = "".join(_layer_row(lp, sizes) for lp in profile)
    table = (f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
             f"<tbody>{body}</tbody></table></div>")
    return section("Layers", table, anchor="layers")


def _layer_row(layer: LayerProfile, sizes: list[int]) -> str:
    s = layer.summary()
    union = layer.union_density()
    dead, nan, inf = int(s["dead_units"]), int(s["nan"]), int(s["inf"])
    cells = [
        shape_text(layer),
        str(layer.samples),
        fmt(s["density"]),
        fmt(s["zero_fraction"]),
        *(fmt(layer.near_zero(t)) for t in layer.config.near_zero),
        fmt(s["hoyer"]),
        fmt(s["gini"]),
        fmt(s["treves_rolls"]),
    ]
    tds = "".join(f"<td>{escape(c)}</td>" for c in cells)
    tds += f'<td{_warn(dead)}>{dead}/{layer.units}</td>'
    tds += "".join(f"<td>{escape(fmt(union.get(b)))}</td>" for b in sizes)
    tds += f"<td{_warn(nan + inf)}>{nan} / {inf}</td>"
    return f'<tr><td class="name">{escape(layer.name)}</td>{tds}</tr>'


def _warn(count: int) -> str:
    return ' class="warn"' if count else ""


def _glossary() -> str:
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in GLOSSARY)
    return section("What the columns mean", f"<dl>{items}</dl>")

