"""``run_demo``: profile, accelerate and a short study, one report linking the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from actsparse.cli.demo import DEMO_SEEDS, DEMO_VARIANTS, run_demo
from actsparse.study.measurements import MeasureSettings

# Every measurement of the short study on a few images: seconds instead of minutes.
FAST = MeasureSettings(per_class=10, latency_images=20, latency_warmup=2, calibration_images=100,
                       swap_timing_images=4)


def test_demo_writes_the_reports_and_ends_with_the_path(
        tmp_path: Path, one_thread: None, capsys: pytest.CaptureFixture[str]) -> None:
    status = run_demo(tmp_path, limit=64, progress=False, variants=["dense"], seeds=1,
                      train_limit=200, test_limit=50, settings=FAST, accelerate_limit=32)
    assert status == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"report: {(tmp_path / 'report.html').resolve()}"
    for page in ("report.html", "study.json", "profile/report.html",
                 "accelerate/accelerate.html"):
        assert (tmp_path / page).is_file(), page
    report = (tmp_path / "report.html").read_text()
    assert 'href="profile/report.html"' in report and 'href="accelerate/accelerate.html"' in report
    assert "Numenta dense CNN" in report  # MNIST: the anchor table


def test_the_default_demo_is_a_real_comparison() -> None:
    assert "dense" in DEMO_VARIANTS and "kwta" in DEMO_VARIANTS and DEMO_SEEDS >= 3


def test_a_failing_demo_leaves_the_previous_one_and_a_rerun_reuses_its_runs(
        tmp_path: Path, one_thread: None, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    small = {"limit": 32, "progress": False, "variants": ["dense"], "seeds": 1,
             "train_limit": 100, "test_limit": 40, "settings": FAST, "accelerate_limit": 16}
    assert run_demo(tmp_path / "d", **small) == 0
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("actsparse.study.study.write_study_page", broken)
    with pytest.raises(OSError, match="disk full"):
        run_demo(tmp_path / "d", **small)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before
    monkeypatch.undo()
    monkeypatch.setattr("actsparse.study.runs.train", broken)  # a rerun trains nothing
    assert run_demo(tmp_path / "d", **small) == 0
