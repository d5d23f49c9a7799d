"""The figure helper: matplotlib only when drawing, a clear message when it is missing."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from actsparse.report import figures

PAGES = ("profile_page", "accelerate_page", "interpret_page", "sae_page", "study_page")


def test_importing_the_pages_does_not_import_matplotlib() -> None:
    modules = "; ".join(f"import actsparse.report.{m}" for m in PAGES)
    code = f"import sys, actsparse; {modules}; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="report extra: " + re.escape(figures.INSTALL_HINT)):
        figures.new_figure(2, 2)


def test_img_tag_is_an_inline_png_with_escaped_alt() -> None:
    tag = figures.img_tag(figures.new_figure(1, 1), 'a "b" <c>')
    assert tag.startswith('<img alt="a &quot;b&quot; &lt;c&gt;" src="data:image/png;base64,')
    assert tag.endswith('">')


def test_figure_or_note() -> None:
    shown = figures.figure_or_note(lambda: figures.new_figure(1, 1), "plot", "x < y")
    assert shown.startswith('<p class="note">x &lt; y</p><img alt="plot"')
    assert figures.figure_or_note(lambda: None, "plot", "note") == (
        '<p class="note">Nothing to draw.</p>')


@pytest.mark.parametrize(("n", "limit"), [(0, 4), (3, 4), (10, 4), (100, 48), (5, 1)])
def test_spread_keeps_first_and_last_evenly(n: int, limit: int) -> None:
    items = list(range(n))
    kept = figures.spread(items, limit)
    assert len(kept) == min(n, limit) and kept == sorted(set(kept))
    if n and limit > 1:
        assert kept[0] == 0 and kept[-1] == n - 1
