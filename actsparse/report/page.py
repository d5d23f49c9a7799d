"""The one page skeleton: head with the shared style, a header, sections and a footer.

Every HTML page of actsparse (profile, accelerate, interpret, SAE, study) is one self-contained
file built here: CSS inline, figures as base64 PNG, no scripts, fonts or external images. Text
handed to these functions as a title, note or table cell is escaped here; ``body`` and
``header`` are HTML the caller built (and escaped) itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from html import escape
from importlib import metadata
from pathlib import Path

from actsparse._atomic import write_text_atomic

FILE_NAME = "report.html"  # what a page is called when its path is a folder

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f4f4f4; position: sticky; top: 0; }
td.name, th.name, .meta th, .meta td { text-align: left; }
td.name { font-family: ui-monospace, Menlo, Consolas, monospace; white-space: nowrap; }
.warn { color: #b00020; font-weight: 600; }
.note { color: #555; max-width: 60em; }
.scroll { overflow-x: auto; }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
dt { font-weight: 600; } dd { margin: 0 0 0.4em 1.5em; color: #444; }
mark { background: #ffd54f; padding: 0 2px; border-radius: 2px; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
"""


def document(title: str, sections: Sequence[str], *, header: str = "", extra_css: str = "",
             footer: str | None = None) -> str:
    """A whole page: ``title`` as <title> and <h1>, ``header`` under it, then ``sections``.

    ``footer`` is the text of the last line (default: which actsparse version wrote it).

    Example:
        >>> page = document("a <b>", [section("One", "<p>1</p>", note="why")])
        >>> "<title>a &lt;b&gt;</title>" in page, '<p class="note">why</p><p>1</p>' in page
        (True, True)
    """
    footer = footer if footer is not None else f"Written by actsparse {version()}."
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}{extra_css}</style></head><body>",
        f"<header><h1>{escape(title)}</h1>{header}</header>",
        *sections,
        f'<footer class="note"><p>{escape(footer)}</p></footer>',
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def section(title: str, body: str, *, note: str = "", anchor: str = "") -> str:
    """A ``<section>``: heading, an optional note under it, then ``body`` (HTML).

    Example:
        >>> section("Runs", "<table></table>", anchor="runs")
        '<section id="runs"><h2>Runs</h2><table></table></section>'
    """
    ident = f' id="{escape(anchor)}"' if anchor else ""
    lead = f'<p class="note">{escape(note)}</p>' if note else ""
    return f"<section{ident}><h2>{escape(title)}</h2>{lead}{body}</section>"


def anchor_for(title: str) -> str:
    """The fragment a heading is linked by: lower case, apostrophes dropped, spaces as '-'.

    Example:
        >>> anchor_for("Numenta's MNIST table")
        'numentas-mnist-table'
    """
    return title.lower().replace("'", "").replace(" ", "-")


def facts_table(rows: Mapping[str, str]) -> str:
    """A two-column table of named facts (a page's metadata), every text escaped.

    Example:
        >>> facts_table({"model": "<cnn>"})
        '<table class="meta"><tr><th>model</th><td>&lt;cnn&gt;</td></tr></table>'
    """
    cells = "".join(f"<tr><th>{escape(str(key))}</th><td>{escape(value)}</td></tr>"
                    for key, value in rows.items())
    return f'<table class="meta">{cells}</table>'


def write_page(path: str | os.PathLike[str], html: str, file_name: str = FILE_NAME) -> Path:
    """Write ``html`` to ``path`` atomically and return the file's path.

    ``path`` ending in ``.html`` or ``.htm`` is the file; otherwise it is a folder that gets
    ``file_name``. Missing folders are created; a failure leaves no partial page.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     write_page(d + "/run", document("t", [])).name
        'report.html'
    """
    target = Path(path)
    if target.suffix.lower() not in (".html", ".htm"):
        target = target / file_name
    return write_text_atomic(target, html)


def version() -> str:
    """The installed actsparse version, or '(not installed)'.

    Example:
        >>> isinstance(version(), str)
        True
    """
    try:
        return metadata.version("actsparse")
    except metadata.PackageNotFoundError:
        return "(not installed)"
