"""Matplotlib, imported only when a plot is drawn, and figures turned into embeddable PNGs.

Figures are made with ``matplotlib.figure.Figure`` on an Agg canvas, never through pyplot, so
drawing a report leaves the user's pyplot state and backend alone.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INSTALL_HINT = "pip install actsparse[report]"
DPI = 100
MAX_PANELS = 48  # small multiples: at most this many layers, evenly spaced through the model

T = TypeVar("T")


def new_figure(width: float, height: float) -> Figure:
    """An empty figure of ``width`` x ``height`` inches; ImportError if matplotlib is missing.

    Example:
        >>> new_figure(4, 3).get_size_inches().tolist()
        [4.0, 3.0]
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError(
            f"the actsparse report draws its plots with matplotlib, which is not installed: "
            f"{INSTALL_HINT}"
        ) from err
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
