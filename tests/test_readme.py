"""Every figures block of the README is the rendering of its benchmark JSON (no figure by hand)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks import readme_figures  # noqa: E402


def test_the_readme_figures_are_those_of_the_json() -> None:
    text = readme_figures.README.read_text(encoding="utf-8")
    names = [m["name"] for m in readme_figures.BLOCK.finditer(text)]
    assert sorted(names) == sorted(readme_figures.RENDERERS), "a block without renderer, or back"
    assert readme_figures.render(text) == text, (
        "README figures differ from benchmarks/results/*.json: "
        "run `.venv/bin/python -m benchmarks.readme_figures`")


def test_a_figure_typed_by_hand_is_replaced(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    data = json.loads((readme_figures.RESULTS / "kwinners_step.json").read_text())
    (results / "kwinners_step.json").write_text(json.dumps({**data, "median_ratio": 1.5}))
    text = ("intro\n<!-- figures:kwinners_step -->\ncosts **1.196x** by hand\n"
            "<!-- /figures:kwinners_step -->\nend\n")
    out = readme_figures.render(text, results)
    assert "**1.500x**" in out and "1.196x" not in out
    assert out.startswith("intro\n") and out.endswith("end\n")
    assert "date and CPU model not recorded" in out or "measured " in out


def test_a_block_without_json_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        readme_figures.render(
            "<!-- figures:kwinners_step -->\n<!-- /figures:kwinners_step -->", tmp_path)


def test_provenance_names_date_and_cpu() -> None:
    line = readme_figures.provenance(
        {"machine": {"date": "2026-12-02T10:00:00+00:00", "cpu": "AMD EPYC", "threads": 2}}, "cmd")
    assert "2026-12-02" in line and "AMD EPYC" in line and "`cmd`" in line
