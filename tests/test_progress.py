"""Progress bars and tables with and without rich (an optional extra)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

import actsparse
from actsparse._progress import Bars, rich_available, track
from actsparse.report.table import format_table, format_text, print_rows, print_table


@pytest.fixture
def no_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import rich`` (and every rich submodule) fail, as if it were not installed."""
    for name in [n for n in sys.modules if n == "rich" or n.startswith("rich.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "rich", None)


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.ReLU())


def test_without_rich_track_shows_nothing(no_rich: None, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    assert not rich_available()
    items = [1, 2, 3]
    assert list(track(items, "counting")) == items
    assert capsys.readouterr() == ("", "")


def test_without_rich_a_finished_bar_prints_one_plain_line(
        no_rich: None, capsys: pytest.CaptureFixture[str]) -> None:
    with Bars("loss {loss:.2f}") as bars:
        first = bars.add("epoch 1/2", total=2, loss=float("nan"))
        bars.update(first, advance=1, loss=0.75)
        assert capsys.readouterr().err == ""  # not finished yet
        bars.update(first, advance=1, loss=0.5)
        second = bars.add("epoch 2/2", total=3, loss=float("nan"))
        bars.update(second, completed=3, loss=0.25)
    assert capsys.readouterr().err.splitlines() == ["epoch 1/2: 2/2 loss 0.50",
                                                    "epoch 2/2: 3/3 loss 0.25"]


def test_a_disabled_bar_prints_nothing_with_or_without_rich(
        capsys: pytest.CaptureFixture[str]) -> None:
    with Bars("loss {loss:.2f}", enabled=False) as bars:
        task = bars.add("x", total=1, loss=0.0)
        bars.update(task, advance=1, loss=1.0)
    assert capsys.readouterr() == ("", "")


def test_profile_with_progress_runs_without_rich(no_rich: None) -> None:
    batches = [torch.randn(5, 4) for _ in range(3)]
    prof = actsparse.profile(_net(), batches, progress=True, max_batches=2)
    assert prof["1"].samples == 10


def test_without_rich_the_table_is_plain_text(no_rich: None,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    prof = actsparse.profile(_net(), [torch.randn(16, 4)])
    print_table(prof)
    out = capsys.readouterr().out
    assert out == format_text(prof) + "\n"
    lines = out.splitlines()
    assert lines[0] == "Sequential"
    assert lines[1].split()[:4] == ["layer", "shape", "density", "zero"]
    assert [line.split()[0] for line in lines[-2:]] == ["1", "3"]
    with pytest.raises(ImportError, match=r"actsparse\[cli\]"):
        format_table(prof)


def test_print_rows_without_rich(no_rich: None, capsys: pytest.CaptureFixture[str]) -> None:
    print_rows(["layer", "mean SI"], [["[bold]fc1", "0.500"]], title="interpret")
    assert capsys.readouterr().out.splitlines() == [
        "interpret", "layer      mean SI", "---------  -------", "[bold]fc1    0.500"]


def test_plain_table_has_the_same_cells_as_the_rich_one() -> None:
    pytest.importorskip("rich")
    prof = actsparse.profile(_net(), [torch.randn(16, 4)])
    table = format_table(prof)
    rich_cells = [[str(c) for c in col._cells] for col in table.columns]
    plain_rows = [line.split() for line in format_text(prof).splitlines()[-len(prof):]]
    assert [list(r) for r in zip(*rich_cells, strict=True)] == plain_rows


def test_the_package_imports_without_rich() -> None:
    code = ("import sys; sys.modules['rich'] = None; import actsparse, actsparse.report, "
            "actsparse.train.loop, actsparse.interpret.sae_train, actsparse.study.study; "
            "from actsparse._progress import rich_available; assert not rich_available()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
