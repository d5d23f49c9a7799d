"""The page of ``actsparse sae``: summary, feature density, training curve, top latents in text.

``report.html`` is self-contained, in the shared page skeleton (plots are inline PNGs, every
text escaped). For a text model it shows, for a few latents, the held-out snippets where each
fires most (found by :func:`actsparse.interpret.sae_top_latents.top_latent_examples`), the
token it fires on marked.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actsparse.report.figures import img_tag, new_figure
from actsparse.report.format import fmt
from actsparse.report.page import document, facts_table, section, write_page

if TYPE_CHECKING:
    from matplotlib.figure import Figure

EXTRA_CSS = """
li { margin: 0.3em 0; font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 90%; }
"""


def density_figure(histogram: dict[str, Any], title: str = "feature density") -> Figure:
    """Bars of ``log10(density)`` of the live latents; the dead count in the title.

    Example:
        >>> hist = {"edges": [-2.0, -1.0, 0.0], "counts": [3, 1], "dead": 1, "live": 4}
        >>> density_figure(hist).axes[0].get_title()
        'feature density (1 dead of 5)'
    """
    fig = new_figure(5.5, 3.2)
    ax = fig.add_subplot()
    edges, counts = histogram["edges"], histogram["counts"]
    widths = [edges[i + 1] - edges[i] for i in range(len(counts))]
    ax.bar(edges[:-1], counts, width=widths, align="edge", color="#1f77b4")
    ax.set_xlabel("log10(fraction of tokens the latent fires on)")
    ax.set_ylabel("latents")
    ax.set_title(f"{title} ({histogram['dead']} dead of "
                 f"{histogram['dead'] + histogram['live']})")
    return fig


def curve_figure(history: dict[str, list[float]]) -> Figure:
    """Training MSE (log scale) and the dead fraction by the tracker, against the step.

    Example:
        >>> curve = {"step": [0.0, 1.0], "mse": [1.0, 0.5], "dead_fraction": [0.0, 0.1]}
        >>> curve_figure(curve).axes[0].get_yscale()
        'log'
    """
    fig = new_figure(5.5, 3.2)
    ax = fig.add_subplot()
    ax.plot(history["step"], history["mse"], color="#1f77b4", label="MSE (scaled inputs)")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("MSE")
    twin = ax.twinx()
    twin.plot(history["step"], history["dead_fraction"], color="#d62728", lw=1,
              label="dead fraction")
    twin.set_ylabel("dead fraction")
    twin.set_ylim(0, max(0.05, max(history["dead_fraction"], default=0) * 1.1))
    ax.set_title("training")
    lines = ax.get_lines() + twin.get_lines()
    ax.legend(lines, [str(line.get_label()) for line in lines], loc="upper center", fontsize=8)
    return fig


def write_sae_page(path: str | os.PathLike[str], *, title: str, summary: dict[str, Any],
                   histogram: dict[str, Any], history: dict[str, list[float]],
                   examples: list[dict[str, Any]], command: str = "") -> Path:
    """Write the standalone HTML page of a trained SAE; return its path.

    Example:
        >>> import tempfile
        >>> hist = {"edges": [-2.0, -1.0, 0.0], "counts": [3, 1], "dead": 0, "live": 4}
        >>> curve = {"step": [0.0, 1.0], "mse": [1.0, 0.5], "dead_fraction": [0.0, 0.0]}
        >>> page = write_sae_page(tempfile.mkdtemp() + "/r.html", title="<t>",
        ...                       summary={"FVU": 0.2}, histogram=hist, history=curve,
        ...                       examples=[{"latent": 3, "density": 0.01, "mass": 2.0,
        ...                                  "examples": [{"value": 1.0, "before": "a ",
        ...                                                "token": "<b>", "after": " c"}]}])
        >>> text = page.read_text()
        >>> "&lt;t&gt;" in text, "<mark>&lt;b&gt;</mark>" in text
        (True, True)
    """
    curve = (img_tag(curve_figure(history), "training curve") if history.get("step")
             else "")
    latents = "".join(_latent_block(block) for block in examples) or \
        "<p>No snippets: the model does not take text, or no latent qualified.</p>"
    header = ("<p>The numbers are in <code>sae.json</code>; the weights in "
              "<code>sae.safetensors</code>.</p>"
              + (f"<pre>{escape(command)}</pre>" if command else ""))
    sections = [
        section("Summary", facts_table({str(k): fmt(v, ".4g") for k, v in summary.items()})),
        section("Feature density (held-out data)",
                img_tag(density_figure(histogram), "feature density histogram"),
                note="How often each latent fires; dead latents never fire on the held-out "
                "vectors."),
        section("Training", curve),
        section("Top latents on held-out text", latents,
                note="Latents with the most activation mass on held-out text (those firing on "
                "more than 10% of tokens left out); for each, the snippets where it fires "
                "most, the token marked."),
    ]
    return write_page(path, document(title, sections, header=header, extra_css=EXTRA_CSS))


def _latent_block(block: dict[str, Any]) -> str:
    items = "".join(
        f"<li>{ex['value']:.3g}: {escape(ex['before'])}<mark>{escape(ex['token'])}"
        f"</mark>{escape(ex['after'])}</li>" for ex in block["examples"])
    return (f"<h3>latent {block['latent']}</h3><p>fires on {block['density']:.2%} of held-out "
            f"tokens</p><ul>{items}</ul>")

