"""The speed-accuracy sweep of ``actsparse accelerate``: a Pareto plot and a small HTML page.

The page (``accelerate.html``) stands beside the profile report (``report.html``, linked from
it): a table of the layers, the sweep table and the plot of quality against measured speedup,
one point per target density, the Pareto front joined by a line.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actsparse.report.figures import img_tag, new_figure
from actsparse.report.format import fmt
from actsparse.report.page import document, section, write_page

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both (higher x, higher y), by x.

    Example:
        >>> pareto_front([(1.0, 0.99), (1.5, 0.98), (1.2, 0.97), (2.0, 0.90)])
        [0, 1, 3]
    """
    front = []
    for i, (x, y) in enumerate(points):
        beaten = any(x2 >= x and y2 >= y and (x2, y2) != (x, y) for x2, y2 in points)
        if not beaten:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def pareto_figure(sweep: list[dict[str, Any]], metric: str) -> Figure:
    """Quality (``metric``) against measured model speedup, one point per target density.

    Example:
        >>> sweep = [{"target_density": 1.0, "speedup": 1.0, "accuracy": 0.99},
        ...          {"target_density": 0.3, "speedup": 1.7, "accuracy": 0.97}]
        >>> pareto_figure(sweep, "accuracy").axes[0].get_ylabel()
        'accuracy'
    """
    fig = new_figure(5.5, 3.8)
    ax = fig.add_subplot()
    points = [(float(s["speedup"]), float(s[metric])) for s in sweep]
    ax.scatter([p[0] for p in points], [p[1] for p in points], color="#1f77b4", zorder=3)
    for s, (x, y) in zip(sweep, points, strict=True):
        ax.annotate(f"d={s['target_density']:g}", (x, y), textcoords="offset points",
                    xytext=(5, 4), fontsize=8)
    front = pareto_front(points)
    ax.plot([points[i][0] for i in front], [points[i][1] for i in front], color="#d62728",
            lw=1.2, label="Pareto front")
    ax.axvline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("measured speedup over the dense model (x)")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title("speed vs quality over target densities")
    ax.legend(loc="best", fontsize=8)
    return fig


def write_accelerate_page(path: str | os.PathLike[str], *, title: str, summary: str,
                          sweep: list[dict[str, Any]], metric: str, metric_note: str
                          ) -> Path:
    """Write ``accelerate.html``: the report summary, the sweep table and the Pareto plot.

    ``path`` is the file, or a folder that gets ``accelerate.html``.

    Example:
        >>> import tempfile
        >>> sweep = [{"target_density": 0.5, "speedup": 1.5, "accuracy": 0.98,
        ...           "flop_ratio": 0.5, "params_after": 10, "swapped": ["fc1", "fc2"]}]
        >>> with tempfile.TemporaryDirectory() as d:
        ...     page = write_accelerate_page(d, title="<net>", summary="2 layers", sweep=sweep,
        ...         metric="accuracy", metric_note="test accuracy").read_text()
        >>> "&lt;net&gt;" in page, "<td>fc1, fc2</td>" in page, "Pareto plot" in page
        (True, True, True)
    """
    columns = _columns(metric)
    head = "".join(f"<th>{escape(k)}</th>" for k in columns)
    rows = "".join("<tr>" + "".join(f"<td>{escape(fmt(s.get(k), '.4g', missing=''))}</td>"
                                    for k in columns) + "</tr>" for s in sweep)
    plot = (img_tag(pareto_figure(sweep, metric), "Pareto plot") if sweep
            else "<p>No sweep was run.</p>")
    header = ('<p>The activation profile of the dense model is in <a href="report.html">'
              "report.html</a>; the numbers below are in <code>accelerate.json</code>.</p>")
    note = (f"Quality: {metric_note}. Speedup: median time of the dense model over the "
            "accelerated one on the same batches, interleaved, in this run.")
    sections = [
        section("Accelerated model", f"<pre>{escape(summary)}</pre>"),
        section("Speed-accuracy sweep",
                f'{plot}<div class="scroll"><table><tr>{head}</tr>{rows}</table></div>',
                note=note),
    ]
    return write_page(path, document(title, sections, header=header), "accelerate.html")


def _columns(metric: str) -> list[str]:
    return ["target_density", "speedup", metric, "flop_ratio", "params_after", "swapped"]
