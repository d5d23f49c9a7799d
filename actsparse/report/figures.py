"""The one figure helper of every page: matplotlib loaded only when a figure is drawn, figures
turned into embeddable PNGs, and the small layout helpers the figures share.

Figures are made with ``matplotlib.figure.Figure`` on an Agg canvas, never through pyplot, so
drawing a page leaves the user's pyplot state and backend alone. Without matplotlib, drawing
raises an ImportError that names the extra to install; importing this module needs nothing.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INSTALL_HINT = "pip install actsparse[report]"
DPI = 100
MAX_PANELS = 48  # small multiples: at most this many layers, evenly spaced through the model

T = TypeVar("T")


def matplotlib() -> ModuleType:
    """The matplotlib module, imported now; an ImportError naming the report extra if missing.

    Example:
        >>> matplotlib().__name__
        'matplotlib'
    """
    try:
        import matplotlib as mpl
    except ImportError as err:
        raise ImportError(
            "actsparse draws its figures with matplotlib, which is not installed; install the "
            f"report extra: {INSTALL_HINT}"
        ) from err
    return mpl


def new_figure(width: float, height: float) -> Figure:
    """An empty figure of ``width`` x ``height`` inches; ImportError if matplotlib is missing.

    Example:
        >>> new_figure(4, 3).get_size_inches().tolist()
        [4.0, 3.0]
    """
    matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def png_data_uri(fig: Figure) -> str:
    """The figure rendered by Agg as a ``data:image/png;base64,...`` URI.

    Example:
        >>> png_data_uri(new_figure(1, 1)).startswith("data:image/png;base64,")
        True
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` rendered by Agg to the PNG file ``path``; return the path.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save_png(new_figure(1, 1), d + "/one.png").stat().st_size > 0
        True
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=DPI)
    return Path(path)


def img_tag(fig: Figure, alt: str) -> str:
    """An ``<img>`` element holding ``fig`` as an inline PNG, ``alt`` escaped.

    Example:
        >>> img_tag(new_figure(1, 1), "a <plot>")[:40]
        '<img alt="a &lt;plot&gt;" src="data:imag'
    """
    return f'<img alt="{escape(alt)}" src="{png_data_uri(fig)}">'


def figure_or_note(draw: Callable[[], Figure | None], alt: str, note: str,
                   empty: str = "Nothing to draw.") -> str:
    """``note`` and the figure ``draw()`` returns, or the note ``empty`` when it returns None.

    Example:
        >>> figure_or_note(lambda: None, "plot", "a note", empty="Not measured.")
        '<p class="note">Not measured.</p>'
    """
    fig = draw()
    if fig is None:
        return f'<p class="note">{escape(empty)}</p>'
    return f'<p class="note">{escape(note)}</p>{img_tag(fig, alt)}'


def label(name: str, width: int = 32) -> str:
    """A layer name fit for a plot: its end kept when too long, ``$`` escaped from mathtext.

    Example:
        >>> label("encoder.layer.11.intermediate.intermediate_act_fn", 20)
        '…intermediate_act_fn'
        >>> label("cost$")
        'cost\\\\$'
    """
    text = name if len(name) <= width else "…" + name[-(width - 1) :]
    return text.replace("$", r"\$")


def spread(items: Sequence[T], limit: int = MAX_PANELS) -> list[T]:
    """At most ``limit`` of ``items``, evenly spaced, first and last included.

    Example:
        >>> spread(list(range(10)), 4)
        [0, 3, 6, 9]
    """
    n = len(items)
    if n <= limit:
        return list(items)
    if limit == 1:
        return [items[0]]
    return [items[round(i * (n - 1) / (limit - 1))] for i in range(limit)]


def grid(n: int, max_cols: int = 6) -> tuple[int, int]:
    """(rows, cols) of a grid of small multiples for ``n`` panels.

    Example:
        >>> grid(1), grid(7), grid(12, 4)
        ((1, 1), (2, 6), (3, 4))
    """
    cols = max(1, min(n, max_cols))
    return max(1, -(-n // cols)), cols
