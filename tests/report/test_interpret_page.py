"""The interpret page: every measured section in order, galleries of patches and snippets,
escaped text, and only what was measured."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

import actsparse
from actsparse.interpret.overlap import ClassSampler
from actsparse.report.interpret_page import (
    Gallery,
    UnitExamples,
    render,
    write_interpret_page,
)

HEADINGS = ["Summary", "Class selectivity", "Preferred classes", "Overlap of active sets",
            "Overlap against density", "False matches", "Top examples"]


def measured() -> dict[str, Any]:
    """Selectivity, overlap and density curves of a small ReLU net on labelled noise."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU())
    batches = [(torch.randn(40, 6), torch.arange(40) % 4) for _ in range(2)]
    sampler = ClassSampler(per_class=10, keep_values=True)
    with torch.no_grad():
        for x, y in batches:
            sampler.update("1", net[1](net[0](x)), y)
    return {"selectivity": actsparse.class_selectivity(net, batches, num_classes=4),
            "overlaps": sampler.overlaps(),
            "curves": {"1": sampler.density_curve("1")}}


def galleries() -> list[Gallery]:
    patches = UnitExamples(2, "unit 2 <a>", [1.5, 0.5], images=[torch.rand(1, 3, 3)] * 2)
    text = UnitExamples(5, "unit 5", [2.0, 1.0],
                        snippets=[("the ", "<cat>", " sat"), ("a ", "dog", " ran")])
    return [Gallery("conv <1>", "patches", [patches]), Gallery("tok", "snippets", [text])]


def test_every_section_in_order_with_its_figure(tmp_path: Path,
                                                well_formed: Callable[[str], Any]) -> None:
    out = write_interpret_page(tmp_path, title="interpret <net>", meta={"samples": 80,
                               "density": 0.123456}, galleries=galleries(), **measured())
    assert out == tmp_path / "report.html"
    page = out.read_text()
    checker = well_formed(page)
    found = [page.index(f"<h2>{h}</h2>") for h in HEADINGS]
    assert found == sorted(found)
    # selectivity, preferred, overlap, density curve, false matches, one gallery of patches
    assert len(checker.images) == 6
    assert all(src.startswith("data:image/png;base64,") for src in checker.links)
    assert page.count("<mark>") == 2 and "<mark>&lt;cat&gt;</mark>" in page
    assert "<h3>conv &lt;1&gt;</h3>" in page and "interpret &lt;net&gt;" in page
    assert "<td>0.1235</td>" in page and "<td>80</td>" in page  # meta in 4 significant digits
    assert "http" not in page.split("<body>")[1]


def test_unlabelled_data_shows_only_what_was_measured(well_formed: Callable[[str], Any]
                                                      ) -> None:
    page = render(title="t", notes=["no labels <x>: class measures skipped"])
    checker = well_formed(page)
    assert '<p class="note warn">no labels &lt;x&gt;: class measures skipped</p>' in page
    assert [h for h in HEADINGS if f"<h2>{h}</h2>" in page] == ["False matches"]
    assert len(checker.images) == 1
