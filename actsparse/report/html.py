"""The self-contained HTML report: one file, CSS inline, plots embedded as base64 PNG.

The page loads nothing from anywhere: no scripts, no fonts, no external images. All text taken
from the profile (layer names, metadata) is escaped.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from html import escape
from importlib import metadata
from pathlib import Path
from typing import Any

from actsparse._atomic import write_text_atomic
from actsparse.measure.layer import LayerProfile
from actsparse.measure.profile import Profile
from actsparse.report import plots
from actsparse.report._format import fmt, shape_text, union_sizes_shown
from actsparse.report._mpl import MAX_PANELS, png_data_uri
from actsparse.report.examples import Examples
from actsparse.report.overlay import MAX_LAYERS, overlay_figure

FILE_NAME = "report.html"

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f4f4f4; position: sticky; top: 0; }
td.name, th.name, .meta th, .meta td { text-align: left; }
td.name { font-family: ui-monospace, Menlo, Consolas, monospace; white-space: nowrap; }
.warn { color: #b00020; font-weight: 600; }
.note { color: #555; max-width: 60em; }
.scroll { overflow-x: auto; }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
dt { font-weight: 600; } dd { margin: 0 0 0.4em 1.5em; color: #444; }
"""

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
    uri: str


def write_report(
    profile: Profile,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    examples: Examples | None = None,
) -> Path:
    """Write a self-contained HTML report of ``profile`` and return its path.

    ``path`` ending in ``.html`` or ``.htm`` is the file; otherwise it is a folder that gets a
    ``report.html``. Missing folders are created; the file is written to a temporary name and
    renamed, so a failure leaves no partial report.

    The report holds the profile's metadata, a per-layer table and six kinds of plot: density
    with near-zero fractions, firing-rate histograms, dead units, per-sample density, union
    density against B and (for conv layers) spatial firing maps; with ``examples`` (see
    :func:`actsparse.report.example_maps`), also real input images with each conv layer's
    firing map laid over them. Needs matplotlib (``pip install actsparse[report]``).

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
    target = Path(path)
    if target.suffix.lower() not in (".html", ".htm"):
        target = target / FILE_NAME
    page = render(profile, title=title, examples=examples)
    return write_text_atomic(target, page)


def render(profile: Profile, *, title: str | None = None, examples: Examples | None = None) -> str:
    """The report's HTML as a string (what :func:`write_report` writes).

    Example:
        >>> import torch, actsparse
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        >>> page = render(actsparse.profile(net, [torch.randn(16, 4)]), title="a <b>")
        >>> "<title>a &lt;b&gt;</title>" in page
        True
    """
    heading = title if title is not None else f"actsparse report: {profile.meta.get('model', '')}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(heading)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>{escape(heading)}</h1>{_meta_table(profile)}</header>",
        _layer_table(profile),
        *(_plot_section(p) for p in _plots(profile, examples)),
        _glossary(),
        f'<footer class="note"><p>Written by actsparse {escape(_version())}.</p></footer>',
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _plots(profile: Profile, examples: Examples | None) -> list[_Plot]:
    n = len(profile)
    thinned = f" Showing {MAX_PANELS} of {n} layers, evenly spaced." if n > MAX_PANELS else ""
    near = ", ".join(f"{t:g}" for t in profile.config.near_zero)
    found = [
        _Plot("Density and near-zero fractions",
              f"Bars: density. Markers: fraction of values with |a| below {near}. Soft-sparse "
              "layers (GELU, SiLU) have density near 1 yet many values near zero.",
              png_data_uri(plots.density_figure(profile))),
        _Plot("Firing rates of units",
              "Per layer, how many units fire how often. A spike at 0 is dead units, a spike "
              "at 1 units that are always on." + thinned,
              png_data_uri(plots.firing_rate_figure(profile))),
        _Plot("Dead units",
              "Fraction of each layer's units never active on the data seen.",
              png_data_uri(plots.dead_units_figure(profile))),
        _Plot("Per-sample (population) density",
              "Distribution over samples of the fraction of a layer's values active for that "
              "sample; the dot is the layer's overall density.",
              png_data_uri(plots.population_density_figure(profile))),
        _Plot("Batch-union density against B",
              "Fraction of units active in at least one of B samples; missing points: fewer "
              "than B samples were seen.",
              png_data_uri(plots.union_figure(profile))),
    ]
    spatial = plots.spatial_figure(profile)
    if spatial is not None:
        conv = sum(lp.spatial_map() is not None for lp in profile)
        more = f" Showing {MAX_PANELS} of {conv} layers." if conv > MAX_PANELS else ""
        found.append(_Plot("Spatial firing maps",
                           "Per conv layer, the firing rate at each position, averaged over "
                           "samples and channels." + more, png_data_uri(spatial)))
    if examples is not None:
        more = (f" Showing {MAX_LAYERS} of {len(examples.names)} layers."
                if len(examples.names) > MAX_LAYERS else "")
        overlay = png_data_uri(overlay_figure(examples))
        found.append(_Plot("Firing maps over example images",
                           "Each conv layer's fraction of active channels per position, for "
                           "each image, upsampled and laid over it (column scale: 0 to the "
                           "column's largest value)." + more, overlay))
    return found


def _plot_section(plot: _Plot) -> str:
    return (
        f"<section><h2>{escape(plot.title)}</h2><p class=\"note\">{escape(plot.note)}</p>"
        f'<img alt="{escape(plot.title)}" src="{plot.uri}"></section>'
    )


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
    cells = "".join(
        f"<tr><th>{escape(str(key))}</th><td>{escape(_text(value))}</td></tr>"
        for key, value in rows.items()
    )
    return f'<table class="meta">{cells}</table>'


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
    return (
        '<section id="layers"><h2>Layers</h2><div class="scroll"><table>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></section>"
    )


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
    return f"<section><h2>What the columns mean</h2><dl>{items}</dl></section>"


def _version() -> str:
    try:
        return metadata.version("actsparse")
    except metadata.PackageNotFoundError:
        return "(not installed)"

