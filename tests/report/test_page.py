"""The page skeleton shared by every page: one head and style, escaped text, atomic writes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from actsparse.report.page import (
    CSS,
    anchor_for,
    document,
    facts_table,
    section,
    version,
    write_page,
)


def test_document_has_one_head_header_sections_in_order_and_footer(
        well_formed: Callable[[str], Any]) -> None:
    page = document("t <1>", [section("First", "<p>a</p>"), section("Second", "<p>b</p>")],
                    header=facts_table({"k": "v"}), extra_css=".mine { color: red; }")
    checker = well_formed(page)
    assert page.startswith("<!DOCTYPE html>") and page.count("<style>") == 1
    assert f"<style>{CSS}.mine {{ color: red; }}</style>" in page
    assert "<title>t &lt;1&gt;</title>" in page and "<h1>t &lt;1&gt;</h1>" in page
    assert page.index("First") < page.index("Second") < page.index("<footer")
    assert f"Written by actsparse {version()}." in "".join(checker.text)
    assert checker.links == [] and "<script" not in page


def test_footer_and_sections_escape_their_text() -> None:
    page = document("t", [section("a & b", "<i>body</i>", note="x < y", anchor="a-b")],
                    footer="by <me>")
    assert '<section id="a-b"><h2>a &amp; b</h2><p class="note">x &lt; y</p><i>body</i>' in page
    assert "<p>by &lt;me&gt;</p>" in page
    assert section("t", "b") == "<section><h2>t</h2>b</section>"  # no id, no empty note


@pytest.mark.parametrize(("title", "anchor"), [("Runs", "runs"), ("Numenta's MNIST table",
                         "numentas-mnist-table"), ("Per-layer density", "per-layer-density")])
def test_anchor_for(title: str, anchor: str) -> None:
    assert anchor_for(title) == anchor


def test_facts_table_escapes_keys_and_values() -> None:
    table = facts_table({"<k>": "<v>", "n": "3"})
    assert table == ('<table class="meta"><tr><th>&lt;k&gt;</th><td>&lt;v&gt;</td></tr>'
                     "<tr><th>n</th><td>3</td></tr></table>")


@pytest.mark.parametrize(("given", "written"), [("run", "run/report.html"),
                                                ("run/page.html", "run/page.html"),
                                                ("run/PAGE.HTM", "run/PAGE.HTM")])
def test_write_page_file_or_folder(tmp_path: Path, given: str, written: str) -> None:
    out = write_page(tmp_path / given, "<p>x</p>")
    assert out == tmp_path / written and out.read_text() == "<p>x</p>"
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind


def test_write_page_names_the_file_in_a_folder(tmp_path: Path) -> None:
    assert write_page(tmp_path, "x", "accelerate.html") == tmp_path / "accelerate.html"
