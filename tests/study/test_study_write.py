"""``write_study``: study.json and report.html appear together, or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from actsparse.study import study as study_module


def test_a_failing_page_leaves_no_study_json(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(study_module, "write_study_page", broken)
    (tmp_path / "runs").mkdir()  # a resumable study's finished runs stay
    with pytest.raises(OSError, match="disk full"):
        study_module.write_study({"format": "x"}, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["runs"]
