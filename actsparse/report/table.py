"""The per-layer table the command line prints: rich when installed, plain text otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actsparse._progress import rich_available
from actsparse.measure.profile import Profile
from actsparse.report.format import fmt, shape_text, union_sizes_shown

NEAR_ZERO = 1e-2  # the near-zero column: |a| < 1e-2 (an exact histogram edge)


def table_rows(profile: Profile) -> tuple[list[str], list[list[str]]]:
    """Headers and one row of cells per layer: name, shape, density, zero and near-zero
    fractions, Hoyer, Gini, dead units and the batch-union density at each B > 1 of the config
    (8 and 64 by default). Non-finite values (a statistic with no data behind it) are '-'.

    Example:
        >>> import torch, actsparse
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        >>> headers, rows = table_rows(actsparse.profile(net, [torch.randn(16, 4)]))
        >>> headers[:4], rows[0][:2]
        (['layer', 'shape', 'density', 'zero\\nfrac'], ['1', '8'])
    """
    sizes = union_sizes_shown(profile.config.union_sizes)
    headers = ["layer", "shape", "density", "zero\nfrac", f"|a|<\n{NEAR_ZERO:g}", "Hoyer", "Gini",
               "dead"] + [f"union\n@{b}" for b in sizes]
    rows = []
    for layer in profile:
        union = layer.union_density()
        summary = layer.summary()
        rows.append([
            layer.name, shape_text(layer), fmt(layer.density), fmt(layer.zero_fraction),
            fmt(layer.near_zero(NEAR_ZERO)), fmt(summary["hoyer"]), fmt(summary["gini"]),
            f"{int(layer.dead_units().numel())}/{layer.units}",
            *(fmt(union.get(b)) for b in sizes),
        ])
    return headers, rows


def format_table(profile: Profile) -> Any:
    """:func:`table_rows` as a ``rich.table.Table`` (needs rich: ``pip install actsparse[cli]``).

    Example:
        >>> import torch, actsparse
        >>> from actsparse.report import format_table
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        >>> table = format_table(actsparse.profile(net, [torch.randn(16, 4)]))
        >>> table.row_count, [c.header for c in table.columns][:4]
        (1, ['layer', 'shape', 'density', 'zero\\nfrac'])
    """
    if not rich_available():
        raise ImportError("format_table needs rich: pip install 'actsparse[cli]' (or use "
                          "format_text for plain text)")
    from rich.text import Text

    headers, rows = table_rows(profile)
    title = profile.meta.get("model")
    longest = max((len(layer.name) for layer in profile), default=8)
    table = rich_table(headers, str(title) if title is not None else None,
                       first_width=min(max(longest, 8), 60), left=2)
    table.columns[1].overflow = "fold"  # a long shape folds; the layer name never wraps
    dead = headers.index("dead")
    for layer, row in zip(profile, rows, strict=True):
        cells: list[Any] = list(row)
        cells[0] = Text(row[0])  # Text, not str: a name is never read as rich markup
        cells[dead] = Text(row[dead], style="red" if layer.dead_units().numel() else "")
        table.add_row(*cells)
    return table


def rich_table(headers: Sequence[str], title: str | None = None, first_width: int = 0,
               left: int = 1) -> Any:
    """An empty ``rich.table.Table`` in the command line's style: the first ``left`` columns
    left-aligned (the first never wrapped), the others right-aligned, one space between columns
    (it fits 80 columns)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title) if title is not None else None, header_style="bold",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column(headers[0], no_wrap=True, min_width=first_width or None)
    for i, header in enumerate(headers[1:], start=1):
        table.add_column(header, justify="left" if i < left else "right", min_width=5)
    return table


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
               title: str | None = None, left: int = 1) -> str:
    """A plain-text table: the first ``left`` columns left-aligned, the others right-aligned;
    a header with a newline takes two lines.

    Example:
        >>> print(text_table(["layer", "zero\\nfrac"], [["fc1", "0.5"], ["encoder.fc2", "0.25"]]))
        layer        zero
                     frac
        -----------  ----
        fc1           0.5
        encoder.fc2  0.25
    """
    head_lines = [h.split("\n") for h in headers]
    depth = max(len(lines) for lines in head_lines)
    head_lines = [lines + [""] * (depth - len(lines)) for lines in head_lines]
    widths = [max([len(x) for x in lines] + [len(str(r[i])) for r in rows])
              for i, lines in enumerate(head_lines)]

    def line(cells: Sequence[str]) -> str:
        parts = [str(c).ljust(w) if i < left else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(parts).rstrip()

    out = [title] if title else []
    out += [line([lines[k] for lines in head_lines]) for k in range(depth)]
    out.append("  ".join("-" * w for w in widths))
    out += [line(row) for row in rows]
    return "\n".join(out)


def format_text(profile: Profile) -> str:
    """:func:`table_rows` as plain text (what :func:`print_table` prints without rich).

    Example:
        >>> import torch, actsparse
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        >>> print(format_text(actsparse.profile(net, [torch.randn(16, 4)])))  # doctest: +ELLIPSIS
        Sequential
        layer  shape  density  zero...
    """
    title = profile.meta.get("model")
    headers, rows = table_rows(profile)
    return text_table(headers, rows, str(title) if title is not None else None, left=2)


def print_table(profile: Profile, console: Any = None) -> None:
    """Print :func:`format_table` to ``console`` (a new rich Console on stdout by default);
    without rich, print :func:`format_text`.

    Example:
        >>> import io, torch, actsparse
        >>> from rich.console import Console
        >>> from actsparse.report import print_table
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        >>> console = Console(file=io.StringIO(), width=120)
        >>> print_table(actsparse.profile(net, [torch.randn(16, 4)]), console)
        >>> "Hoyer" in console.file.getvalue()
        True
    """
    if not rich_available():
        print(format_text(profile))
        return
    from rich.console import Console

    table = format_table(profile)
    if console is None:  # wide enough that layer names are never cut or wrapped
        natural = Console(width=10_000).measure(table).maximum
        console = Console(width=max(Console().width, natural))
    console.print(table)


def print_rows(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None,
               console: Any = None) -> None:
    """Print any small table: a :func:`rich_table` on ``console`` (stdout by default) when rich
    is installed, else :func:`text_table`. Cells are plain text, never read as rich markup.

    Example:
        >>> print_rows(["layer", "units"], [["fc1", "8"]]) # doctest: +NORMALIZE_WHITESPACE
        layer units
        ...
    """
    if not rich_available():
        print(text_table(headers, rows, title))
        return
    from rich.console import Console
    from rich.text import Text

    table = rich_table(headers, title)
    for row in rows:
        table.add_row(*(Text(str(cell)) for cell in row))
    (console or Console()).print(table)
