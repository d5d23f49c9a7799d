"""The study page: Numenta's anchor beside ours, every section, escaped text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actsparse.report.study_page import SECTIONS, render, write_study_page
from actsparse.study.anchor import anchor_rows
from actsparse.study.summary import METRICS


def mnist_runs() -> dict[str, list[dict[str, Any]]]:
    def run(acc: float, score: int) -> dict[str, Any]:
        return {"test_accuracy": acc, "noise_score": score, "test_images": 2000}
    return {"dense": [run(0.95, 18000), run(0.96, 18200)],
            "kwta": [run(0.94, 19000), run(0.95, 19400)],
            "l1": [run(0.96, 19500), run(0.96, 19700)]}


def test_page_shows_the_anchor_and_every_section(tmp_path: Path) -> None:
    study = {"data": "mnist", "seeds": 2, "epochs": 1, "variants": [], "claims": [],
             "runs": {}, "summary": {}, "noise_curves": {}, "layers": {},
             "anchor": anchor_rows(mnist_runs(), "mnist", "l1"),
             "links": {"profile <pretrained>": "profile/report.html"}}
    page = write_study_page(study, tmp_path / "report.html", METRICS).read_text()
    for heading in SECTIONS:
        assert f">{heading.replace(chr(39), '&#x27;')}</h2>" in page
    assert "97,040" in page and "103,764" in page and "ours: kwta" in page
    assert "90,500" in page or "90500" in page
    assert 'href="profile/report.html"' in page and "profile &lt;pretrained&gt;" in page
    assert "<script" not in page and "http://" not in page


def test_one_seed_warns_and_names_are_escaped() -> None:
    study = {"data": "<mnist>", "seeds": 1, "variants": [
        {"name": "dense", "spec": "none", "sparse": False, "label": "dense"}],
        "claims": [{"claim": "noise", "text": "a <b>", "evidence": "x & y",
                    "verdict": "inconclusive", "reason": "fewer than 2 seeds", "best": None}],
        "runs": {}, "summary": {}, "noise_curves": {}, "layers": {}}
    page = render(study, METRICS)
    assert "One seed: no confidence intervals" in page
    assert "&lt;mnist&gt;" in page and "a &lt;b&gt;" in page and "x &amp; y" in page
    assert "<mnist>" not in page
