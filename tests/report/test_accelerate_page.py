"""The accelerate page: the sweep table and its Pareto plot; the Pareto front itself."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from actsparse.report.accelerate_page import pareto_front, write_accelerate_page

SWEEP = [{"target_density": 1.0, "speedup": 1.23456, "accuracy": 0.991, "flop_ratio": 0.5,
          "params_after": 1000, "swapped": ["fc1", "conv2"]},
         {"target_density": 0.3, "speedup": 1.8, "accuracy": 0.95, "flop_ratio": None,
          "params_after": 800, "swapped": []}]


def test_page_links_the_profile_and_tabulates_the_sweep(
        tmp_path: Path, well_formed: Callable[[str], Any]) -> None:
    out = write_accelerate_page(tmp_path, title="accelerate <net>", summary="fc1 <sparse>",
                                sweep=SWEEP, metric="accuracy", metric_note="top-1 accuracy")
    assert out == tmp_path / "accelerate.html"
    page = out.read_text()
    checker = well_formed(page)
    assert 'href="report.html"' in page and "<pre>fc1 &lt;sparse&gt;</pre>" in page
    assert len(checker.images) == 1 and checker.images[0].startswith("data:image/png;base64,")
    assert page.count("<tr>") == 1 + len(SWEEP)
    assert "<td>1.235</td>" in page and "<td>fc1, conv2</td>" in page  # 4 significant digits
    assert "<td></td>" in page  # a value that was not measured is left blank
    assert "Quality: top-1 accuracy." in page and "accelerate &lt;net&gt;" in page


def test_no_sweep_no_plot(tmp_path: Path, well_formed: Callable[[str], Any]) -> None:
    page = write_accelerate_page(tmp_path / "a.html", title="t", summary="", sweep=[],
                                 metric="accuracy", metric_note="n").read_text()
    assert "No sweep was run." in page and not well_formed(page).images


@pytest.mark.parametrize("seed", range(5))
def test_pareto_front_is_exactly_the_unbeaten_points(seed: int) -> None:
    rng = random.Random(seed)
    points = [(rng.choice([1.0, 1.5, 2.0, rng.random() * 3]), rng.choice([0.9, rng.random()]))
              for _ in range(12)]
    front = pareto_front(points)
    for i, (x, y) in enumerate(points):
        beaten = any(x2 >= x and y2 >= y and (x2, y2) != (x, y) for x2, y2 in points)
        assert (i in front) == (not beaten)
    assert [points[i][0] for i in front] == sorted(points[i][0] for i in front)
