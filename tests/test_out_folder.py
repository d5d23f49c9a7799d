"""``staged_out``: an output folder appears whole on success, and is untouched on failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from actsparse._out_folder import staged_out


def _write_then_fail(out: Path) -> None:
    with pytest.raises(OSError, match="disk full"), staged_out(out) as tmp:
        (tmp / "first.json").write_text("{}")
        raise OSError("disk full")


def test_a_new_folder_appears_only_on_success(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "run"
    _write_then_fail(out)
    assert list(tmp_path.iterdir()) == []  # the parents it made are gone too
    with staged_out(out) as tmp:
        (tmp / "x.txt").write_text("whole")
        assert not out.exists()
    assert (out / "x.txt").read_text() == "whole"
    assert [p.name for p in out.parent.iterdir()] == ["run"]


def test_an_existing_folder_is_left_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("old")
    (out / "first.json").write_text("previous")
    _write_then_fail(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert (out / "first.json").read_text() == "previous"


def test_an_existing_empty_folder_stays_empty_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    _write_then_fail(out)
    assert out.is_dir() and list(out.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_ctrl_c_also_cleans_up(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt), staged_out(out) as tmp:
        (tmp / "half").write_text("")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_success_merges_into_an_existing_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    (out / "sub").mkdir(parents=True)
    (out / "keep.txt").write_text("keep")
    (out / "sub" / "a.txt").write_text("old")
    with staged_out(out) as tmp:
        (tmp / "sub").mkdir()
        (tmp / "sub" / "a.txt").write_text("new")
        (tmp / "b.txt").write_text("b")
    assert (out / "keep.txt").read_text() == "keep"
    assert (out / "sub" / "a.txt").read_text() == "new" and (out / "b.txt").read_text() == "b"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
