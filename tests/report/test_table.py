"""format_table / print_table: the command line's per-layer table."""

from __future__ import annotations

import io

import torch
from rich.console import Console
from torch import nn

import actsparse
from actsparse.measure.profile import Profile
from actsparse.report import format_table, print_table


def render(profile: Profile) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    print_table(profile, console)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_one_row_per_layer(conv_profile: Profile) -> None:
    table = format_table(conv_profile)
    assert table.row_count == len(conv_profile) == 3
    headers = [str(c.header).replace("\n", " ") for c in table.columns]
    assert headers == ["layer", "shape", "density", "zero frac", "|a|< 0.01", "Hoyer",
                       "Gini", "dead", "union @8", "union @64"]
    text = render(conv_profile)
    for name in conv_profile.names:
        assert name in text
    assert "6x16x16" in text and "8x8x8" in text


def test_non_finite_values_print_as_dash() -> None:
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
    prof = actsparse.profile(net, [torch.randn(10, 4)])  # 10 samples: no full group of 64
    text = render(prof)
    rows = [line.split() for line in text.splitlines()]
    (row,) = [r for r in rows if r and r[0] == "1"]
    assert row[-1] == "-" and row[-2] != "-"  # 10 samples: one group of 8, none of 64
    assert "nan" not in text.lower()


def test_names_are_not_read_as_markup() -> None:
    net = nn.Sequential(nn.Linear(4, 8))
    net.add_module("[bold]x[/bold]", nn.ReLU())
    assert "[bold]x[/bold]" in render(actsparse.profile(net, [torch.randn(4, 4)]))
