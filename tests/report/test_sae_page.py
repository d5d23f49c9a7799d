"""The SAE page: summary, feature density, training curve and the top latents' snippets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from actsparse.report.sae_page import write_sae_page

HISTOGRAM = {"edges": [-4.0, -3.0, -2.0, -1.0], "counts": [3, 10, 1], "dead": 2, "live": 14}
HISTORY = {"step": [0.0, 1.0, 2.0], "mse": [1.0, 0.5, 0.3], "dead_fraction": [0.0, 0.1, 0.05]}
LATENTS = [{"latent": 3, "density": 0.01, "mass": 2.0, "examples": [
    {"value": 1.0, "before": "a <x> ", "token": "<b>", "after": " c"},
    {"value": 0.5, "before": "…d ", "token": "e", "after": " f…"}]}]


def test_every_part_escaped_and_drawn(tmp_path: Path, well_formed: Callable[[str], Any]) -> None:
    page = write_sae_page(tmp_path / "report.html", title="SAE on <m>",
                          summary={"FVU": 0.2123456, "L0": 8, "layer": "<enc>"},
                          histogram=HISTOGRAM, history=HISTORY, examples=LATENTS,
                          command="actsparse sae --layer '<enc>'").read_text()
    checker = well_formed(page)
    assert len(checker.images) == 2  # feature density, training curve
    assert "<td>0.2123</td>" in page and "<td>8</td>" in page and "<td>&lt;enc&gt;</td>" in page
    assert "<pre>actsparse sae --layer &#x27;&lt;enc&gt;&#x27;</pre>" in page
    assert "<h3>latent 3</h3>" in page and "fires on 1.00% of held-out tokens" in page
    assert "a &lt;x&gt; <mark>&lt;b&gt;</mark> c" in page and page.count("<li>") == 2
    assert "SAE on &lt;m&gt;" in page and "http" not in page.split("<body>")[1]


def test_without_history_or_snippets(tmp_path: Path, well_formed: Callable[[str], Any]) -> None:
    page = write_sae_page(tmp_path, title="t", summary={}, histogram=HISTOGRAM,
                          history={"step": []}, examples=[]).read_text()
    checker = well_formed(page)
    assert len(checker.images) == 1 and "<pre>" not in page
    assert "No snippets: the model does not take text, or no latent qualified." in page
