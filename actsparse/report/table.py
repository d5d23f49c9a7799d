"""The per-layer table the command line prints (rich)."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from actsparse.measure.profile import Profile
from actsparse.report.format import fmt, shape_text, union_sizes_shown

NEAR_ZERO = 1e-2  # the near-zero column: |a| < 1e-2 (an exact histogram edge)


def format_table(profile: Profile) -> Table:
    """One row per layer: name, shape, density, zero and near-zero fractions, Hoyer, Gini,
    dead units and the batch-union density at each B > 1 of the config (8 and 64 by default).

    Non-finite values (a statistic with no data behind it) print as '-'.

    Example:
        >>> import torch, actsparse
        >>> from actsparse.report import format_table
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        >>> table = format_table(actsparse.profile(net, [torch.randn(16, 4)]))
        >>> table.row_count, [c.header for c in table.columns][:4]
        (1, ['layer', 'shape', 'density', 'zero\\nfrac'])
    """
    sizes = union_sizes_shown(profile.config.union_sizes)
    title = profile.meta.get("model")
    table = Table(
        title=Text(str(title)) if title is not None else None,
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,  # one space between columns: the table fits 80 columns
    )
    longest = max((len(layer.name) for layer in profile), default=8)
    table.add_column("layer", no_wrap=True, min_width=min(max(longest, 8), 60))
    table.add_column("shape", overflow="fold", min_width=5)
    numbers = ["density", "zero\nfrac", f"|a|<\n{NEAR_ZERO:g}", "Hoyer", "Gini", "dead"]
    for header in numbers + [f"union\n@{b}" for b in sizes]:
        table.add_column(header, justify="right", min_width=5)
    for layer in profile:
        dead = int(layer.dead_units().numel())
        union = layer.union_density()
        summary = layer.summary()
        table.add_row(
            Text(layer.name),  # Text, not str: a name is never read as rich markup
            shape_text(layer),
            fmt(layer.density),
            fmt(layer.zero_fraction),
            fmt(layer.near_zero(NEAR_ZERO)),
            fmt(summary["hoyer"]),
            fmt(summary["gini"]),
            Text(f"{dead}/{layer.units}", style="red" if dead else ""),
            *(fmt(union.get(b)) for b in sizes),
        )
    return table


def print_table(profile: Profile, console: Console | None = None) -> None:
    """Print :func:`format_table` to ``console`` (a new rich Console on stdout by default).

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
    table = format_table(profile)
    if console is None:  # wide enough that layer names are never cut or wrapped
        natural = Console(width=10_000).measure(table).maximum
        console = Console(width=max(Console().width, natural))
    console.print(table)
