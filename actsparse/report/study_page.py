"""The study's report: one self-contained HTML page drawn from ``study.json``.

Sections: the claims table (evidence and computed verdict, with the rule), Numenta's anchor
table with ours beside it, the results table (mean ± 95% CI per variant), the curves
(accuracy against noise level, accuracy against density, speed against density), per-layer
density, activation maps, class-overlap heatmaps, per-layer selectivity and overlap, every run,
and the method. Like ``actsparse.report``, the page loads nothing: CSS inline, figures as
base64 PNG, every text escaped.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from actsparse.report.figures import figure_or_note
from actsparse.report.format import fmt, interval
from actsparse.report.page import anchor_for, document, facts_table, section, write_page
from actsparse.report.study_figures import (
    Metric,
    class_overlap_figure,
    maps_figure,
    noise_figure,
    scatter_figure,
)

EXTRA_CSS = """
.supported { background: #d8f0d8; } .not-supported { background: #f6d6d6; }
.inconclusive { background: #f4ecd0; }
td.verdict { font-weight: 600; text-align: center; }
td.text, th.text { text-align: left; max-width: 40em; }
"""
SECTIONS = ("Claims", "Numenta's MNIST table", "Results", "Noise robustness",
            "Density and accuracy", "Speed and density", "Per-layer density", "Activation maps",
            "Class overlap", "Selectivity and overlap per layer", "Runs", "Method")
RESULT_METRICS = ("test_accuracy", "gap", "noise_score", "mean_density", "selectivity",
                  "overlap_between", "overlap_vs_chance", "flops_ratio", "params_after",
                  "speedup_vs_dense", "speedup_vs_own")
EMPTY = "Nothing to draw: not measured in this study."


def write_study_page(study: Mapping[str, Any], path: str | os.PathLike[str],
                     metrics: Mapping[str, Metric]) -> Path:
    """Write the report of ``study`` (the content of ``study.json``) to ``path``, atomically.

    ``metrics`` is the study's metric table (:data:`actsparse.study.summary.METRICS`): how each
    number is read from a run, named and shown.

    Example:
        >>> import tempfile
        >>> from actsparse.study.summary import METRICS
        >>> study = {"data": "toy", "seeds": 1, "epochs": 1, "variants": [], "claims": [],
        ...          "runs": {}, "summary": {}, "noise_curves": {}, "layers": {}}
        >>> page = write_study_page(study, tempfile.mkdtemp() + "/report.html", METRICS)
        >>> '<section id="claims"><h2>Claims</h2>' in page.read_text()
        True
    """
    return write_page(path, render(study, metrics))


def render(study: Mapping[str, Any], metrics: Mapping[str, Metric]) -> str:
    """The page's HTML as a string (what :func:`write_study_page` writes).

    Example:
        >>> from actsparse.study.summary import METRICS
        >>> page = render({"data": "<toy>", "seeds": 2}, METRICS)
        >>> "<h1>actsparse study: dense vs sparse on &lt;toy&gt;</h1>" in page
        True
    """
    title = f"actsparse study: dense vs sparse on {study.get('data', '?')}"
    runs: Mapping[str, Sequence[Mapping[str, Any]]] = study.get("runs", {})
    page = study.get("page")
    if page:  # another workload's study says what to show
        return document(title, _workload_sections(study, page, metrics), header=_intro(study),
                        extra_css=EXTRA_CSS, footer="Written by actsparse study.")
    sections = [
        _section("Claims", _claims(study)),
        _section("Numenta's MNIST table", _anchor(study.get("anchor") or {})),
        _section("Results", _results(study, metrics)),
        _section("Noise robustness", figure_or_note(
            lambda: noise_figure(study), "Accuracy against noise level",
            "Mean accuracy over seeds at each noise level; the band is the 95% CI.", EMPTY)),
        _section("Density and accuracy", figure_or_note(
            lambda: scatter_figure(study, metrics, "mean_density", "test_accuracy"),
            "Density against accuracy",
            "Each point is a run (mean density of the hidden layers on the test set, test "
            "accuracy); the cross is the variant's mean with its 95% CIs.", EMPTY)),
        _section("Speed and density", figure_or_note(
            lambda: scatter_figure(study, metrics, "flops_ratio", "speedup_vs_dense"),
            "Speed against density",
            "x: FLOPs a skip-zero kernel would execute at the input densities seen, as a "
            "fraction of dense FLOPs. y: measured batch-1 speedup of the accelerated model over "
            "the dense reference (median of per-image ratios, interleaved, same loop). The "
            "dashed line is no speedup.", EMPTY)),
        _section("Per-layer density", _layer_table(study, "density", "density")),
        _section("Activation maps", figure_or_note(
            lambda: maps_figure(study), "Activation maps",
            "First test images (top row) and, per variant (seed 0), the fraction of the first "
            "conv layer's channels active at each position (0 white to 1 dark).", EMPTY)),
        _section("Class overlap", figure_or_note(
            lambda: class_overlap_figure(study), "Class overlap heatmaps",
            "Seed 0 of each variant, last hidden layer: mean Jaccard index of the active sets "
            "of test samples of class i and class j (diagonal: pairs within a class); "
            "'chance' is the Jaccard of random codes of the same density.", EMPTY)),
        _section("Selectivity and overlap per layer", _per_layer(study)),
        _section("Runs", _runs_table(runs, metrics)),
        _section("Method", _method(study)),
        _links(study.get("links") or {}),
    ]
    return document(title, sections, header=_intro(study), extra_css=EXTRA_CSS,
                    footer="Written by actsparse study.")


def _workload_sections(study: Mapping[str, Any], page: Mapping[str, Any],
                       metrics: Mapping[str, Metric]) -> list[str]:
    """The sections of a study whose ``page`` entry names its columns, tables and method
    (the recommender study's): claims, results, the tables, runs and method."""
    runs: Mapping[str, Sequence[Mapping[str, Any]]] = study.get("runs", {})
    sections = [_section("Claims", _claims(study)),
                _section("Results", _results(study, metrics, page.get("result_metrics")))]
    for t in page.get("tables", []):
        sections.append(_section(t["title"], _table(t["header"], t["rows"], t.get("note"))))
    sections.append(_section("Runs", _runs_table(runs, metrics, page.get("run_columns"))))
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in page.get("method", []))
    sections.append(_section("Method", f"<dl>{items}</dl>"))
    sections.append(_links(study.get("links") or {}))
    return sections


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], note: str | None) -> str:
    """A table of text cells (escaped), the first column a name, with a note below."""
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    first = '<td class="name">'
    body = "".join("<tr>" + "".join(
        f'{first if i == 0 else "<td>"}{escape(str(c))}</td>' for i, c in enumerate(r))
        + "</tr>" for r in rows)
    foot = f'<p class="note">{escape(note)}</p>' if note else ""
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>{foot}'


# ---- text sections ---------------------------------------------------------------------------

def _section(title: str, body: str) -> str:
    return section(title, body, anchor=anchor_for(title))


def _intro(study: Mapping[str, Any]) -> str:
    variants = ", ".join(f"{v['name']} ({v['spec']})" for v in study.get("variants", []))
    budget = study.get("budget") or {}
    rows = {
        "data": study.get("data"),
        "seeds": study.get("seeds"),
        "epochs": study.get("epochs"),
        **({} if study.get("page") else {"training images": study.get("train_limit") or "all",
                                          "test images": study.get("test_limit") or "all"}),
        "variants": variants,
        "budget": ", ".join(f"{k} {v}" for k, v in budget.items() if k != "seeds"),
        "left out": "; ".join(f"{k}: {v}" for k, v in (study.get("skipped_variants") or {}
                                                      ).items()) or "none",
        "time": f"{study['seconds']:.0f} s" if study.get("seconds") is not None else "-",
    }
    note = ("" if (study.get("seeds") or 0) >= 2 else
            '<p class="warn">One seed: no confidence intervals, so every verdict is '
            "inconclusive. Run with --seeds 3 or more.</p>")
    return facts_table({k: str(v) for k, v in rows.items()}) + note


def _claims(study: Mapping[str, Any]) -> str:
    rows = []
    for c in study.get("claims", []):
        css = c["verdict"].replace(" ", "-")
        rows.append(
            f'<tr><td class="text">{escape(c["text"])}</td>'
            f'<td class="text">{escape(c["evidence"])}</td>'
            f'<td class="verdict {css}">{escape(c["verdict"])}</td>'
            f'<td class="text">{escape(c["reason"])}'
            f'{"; best sparse: " + escape(c["best"]) if c.get("best") else ""}</td></tr>')
    table = ('<div class="scroll"><table><tr><th class="text">claim</th>'
             '<th class="text">evidence (mean ± 95% CI over seeds)</th><th>verdict</th>'
             f'<th class="text">why</th></tr>{"".join(rows)}</table></div>')
    rule = f'<p class="note"><b>Rule.</b> {escape(study.get("rule", ""))}</p>'
    return table + rule


def _anchor(anchor: Mapping[str, Any]) -> str:
    if not anchor.get("available"):
        return f'<p class="note">{escape(anchor.get("note", "No anchor for this data."))}</p>'
    rows = [f"<tr><td class=\"name\">{escape(r['model'])}</td><td>{r['accuracy'] * 100:.2f}</td>"
            f"<td>{r['noise_score']:,}</td><td>-</td><td>-</td></tr>"
            for r in anchor["numenta"]]
    for r in anchor["ours"]:
        acc, score, per10k = r["accuracy"], r["noise_score"], r["noise_score_per_10k"]
        rows.append(f"<tr><td class=\"name\">ours: {escape(r['variant'])}</td>"
                    f"<td>{escape(_ci(acc, 2, 100.0))}</td><td>{escape(_ci(score, 0))}</td>"
                    f"<td>{escape(_ci(per10k, 0))}</td>"
                    f"<td>{r['test_images']} images, {r['seeds']} seed(s)</td></tr>")
    return (f'<div class="scroll"><table><tr><th class="name">model</th>'
            f"<th>test accuracy (%)</th><th>noise score</th><th>noise score per 10,000</th>"
            f'<th>ours: on</th></tr>{"".join(rows)}</table></div>'
            f'<p class="note">Source: {escape(anchor["source"])}. Same noise protocol (see '
            "Method); different networks, training and data split (Numenta: 60,000 training "
            "images and their own training schedule; ours: the budget above). The noise score "
            "is the number of correct predictions summed over the 11 noise levels, at most "
            "110,000 on the 10,000 test images.</p>")


def _results(study: Mapping[str, Any], metrics: Mapping[str, Metric],
             columns: Sequence[str] | None = None) -> str:
    summary: Mapping[str, Mapping[str, Any]] = study.get("summary", {})
    columns = RESULT_METRICS if columns is None else columns
    head = "".join(f"<th>{escape(metrics[m].label)}</th>" for m in columns)
    rows = []
    for v in study.get("variants", []):
        found = summary.get(v["name"], {})
        cells = "".join(f"<td>{escape(_metric_ci(found.get(m), metrics[m]))}</td>"
                        for m in columns)
        mark = "" if v["sparse"] else " (not sparse)"
        rows.append(f'<tr><td class="name">{escape(v["name"] + mark)}</td>{cells}</tr>')
    return (f'<div class="scroll"><table><tr><th class="name">variant</th>{head}</tr>'
            f'{"".join(rows)}</table></div><p class="note">Mean ± half-width of the 95% '
            "confidence interval over seeds (Student t); '(n=1, no CI)' with one seed.</p>")


def _layer_table(study: Mapping[str, Any], key: str, label: str) -> str:
    layers_by_variant: Mapping[str, Mapping[str, Any]] = study.get("layers", {})
    names: list[str] = []
    for v in layers_by_variant.values():
        names += [n for n in v.get(key, {}) if n not in names]
    if not names:
        return '<p class="note">Not measured.</p>'
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    rows = []
    for variant, v in layers_by_variant.items():
        cells = "".join(f"<td>{escape(_ci(v.get(key, {}).get(n)))}</td>" for n in names)
        rows.append(f'<tr><td class="name">{escape(variant)}</td>{cells}</tr>')
    return (f'<div class="scroll"><table><tr><th class="name">{escape(label)}</th>{head}</tr>'
            f'{"".join(rows)}</table></div><p class="note">Fraction of nonzero activations of '
            "each hidden layer over the test set (mean ± 95% CI over seeds).</p>")


def _per_layer(study: Mapping[str, Any]) -> str:
    parts = []
    for key, label in (("selectivity", "mean class selectivity"),
                       ("overlap_between", "between-class Jaccard"),
                       ("overlap_within", "within-class Jaccard"),
                       ("overlap_chance", "Jaccard of random codes, same density")):
        table = _layer_table(study, key, label)
        parts.append(table.split('<p class="note">')[0])
    return "".join(parts) + (
        '<p class="note">Selectivity: Morcos et al. (2018) class-selectivity index per unit '
        "(channel for conv layers), averaged over the units that fired; 0 = responds to all "
        "classes alike, 1 = to one class only. Overlap: mean Jaccard index of the active "
        "sets of 100 test samples per class.</p>")


def _runs_table(runs: Mapping[str, Sequence[Mapping[str, Any]]],
                metrics: Mapping[str, Metric], columns: Sequence[str] | None = None) -> str:
    cols = columns or ("test_accuracy", "noise_score", "mean_density", "params_after",
                       "speedup_vs_dense")
    head = "".join(f"<th>{escape(metrics[c].label)}</th>" for c in cols)
    rows = []
    for variant, rs in runs.items():
        for r in rs:
            cells = "".join(f"<td>{escape(_value(metrics[c].read(r), metrics[c]))}</td>"
                            for c in cols)
            rows.append(f'<tr><td class="name">{escape(variant)}</td><td>{r.get("seed")}</td>'
                        f'{cells}<td>{r.get("train_seconds", 0):.0f}</td>'
                        f'<td>{r.get("measure_seconds", 0):.0f}</td></tr>')
    return (f'<div class="scroll"><table><tr><th class="name">variant</th><th>seed</th>{head}'
            f'<th>train s</th><th>measure s</th></tr>{"".join(rows)}</table></div>')


def _method(study: Mapping[str, Any]) -> str:
    noise = study.get("noise_protocol") or {}
    levels = ", ".join(f"{p:g}" for p in noise.get("levels", []))
    white = noise.get("white")
    items = [
        ("Noise", "Numenta's protocol (nupic.research RandomNoise): for each level p in "
                  f"{levels}, exactly int(P * p) of the P pixels of every test image, chosen "
                  "uniformly without replacement, are set to mean + 2 std of the training "
                  f"pixels ({white:.4f} on the [0, 1] image; for MNIST Numenta's constants "
                  "0.1307 + 2 * 0.3081, which is +2 after their normalisation). Noise score = "
                  f"correct predictions summed over the levels (at most {noise.get('max_score')})"
                  f". The noise is seeded ({noise.get('seed')}), so every model sees the same "
                  "noisy images." if white is not None else "not measured"),
        ("Statistics", "Mean over seeds and 95% confidence interval mean ± t(0.975, n-1) sd / "
                       "sqrt(n) (Student t); one seed gives no interval."),
        ("Density", "Fraction of nonzero activations of each hidden layer (act1, act2, act3) "
                    "over the test set, from an actsparse Profile; 'mean density' averages "
                    "the hidden layers."),
        ("FLOPs", "Per image, Linear and Conv2d layers, 2 FLOPs per multiply-add. Skip-zero "
                  "FLOPs: each layer's dense FLOPs times the density of its input."
                  + _uncounted(study)),
        ("Parameters", "After removing the units never active on the test set "
                       "(prune_dead_units; exact on that data). k-WTA layers are not unit-wise, "
                       "so their neighbours are not pruned (the reasons are in study.json)."),
        ("Latency", "Batch 1, CPU, one image at a time: the dense reference (same architecture, "
                    "plain ReLUs), the model as trained, and the model after accelerate() "
                    "(dead units pruned on 2,000 test images, sparse-input kernels swapped in "
                    "where faster on batch-1 inputs) are called one after another on each of "
                    "the timed test images. Figures: medians of the per-image time ratios."),
        ("Budget", "Every variant: the same CNN, Adam, learning rate, decay, batch size, "
                   "epochs and seeds; only the --sparsity spec differs. Dropout is a control "
                   "(dense at inference), not a sparse variant."),
    ]
    machine = study.get("machine") or {}
    if machine:
        items.append(("Machine", ", ".join(f"{k} {v}" for k, v in machine.items())
                      + ". The CPU may be shared: latency ratios, taken in one loop, are "
                        "robust to that; absolute times are not."))
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items
                            ) + "</dl>"


def _uncounted(study: Mapping[str, Any]) -> str:
    """Which variants have layers the FLOPs leave out (a sparse-coding front end)."""
    left: dict[str, set[str]] = {}
    for variant, rs in (study.get("runs") or {}).items():
        for r in rs:
            left.setdefault(variant, set()).update((r.get("flops") or {}).get("uncounted", []))
    for v in study.get("variants", []):
        if str(v.get("spec", "")).startswith("sc:"):
            left.setdefault(v["name"], set()).add("conv1")
    text = "; ".join(f"{v}: {', '.join(sorted(n))}" for v, n in left.items() if n)
    return (f" Not counted (layers that are not Linear/Conv2d, such as the sparse-coding front "
            f"end's iterations; its FLOPs are a lower bound, its measured latency is whole): "
            f"{text}." if text else "")


def _links(links: Mapping[str, str]) -> str:
    if not links:
        return ""
    items = "".join(f'<li><a href="{escape(href)}">{escape(label)}</a></li>'
                    for label, href in links.items())
    return section("More reports", f"<ul>{items}</ul>", anchor="more-reports")


def _ci(d: Mapping[str, Any] | None, digits: int = 3, scale: float = 1.0) -> str:
    """A summary of ``study.json`` (mean, lo, hi, n) as ``mean ± half-width``; '-' if None."""
    if not d:
        return "-"
    half = None if d.get("hi") is None else d["hi"] - d["mean"]
    return interval(d["mean"], half, d["n"], digits, scale)


def _metric_ci(d: Mapping[str, Any] | None, metric: Metric) -> str:
    return _ci(d, metric.digits, metric.scale) + metric.unit if d else "-"


def _value(v: float | None, metric: Metric) -> str:
    if v is None:
        return "-"
    return fmt(v * metric.scale, f".{metric.digits}f") + metric.unit
