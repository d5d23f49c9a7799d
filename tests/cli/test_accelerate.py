"""`actsparse accelerate`: the JSON, the profile report and the sweep page are written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actsparse.cli import main


@pytest.mark.filterwarnings("ignore:these layers are sparser")
def test_accelerate_command_writes_json_report_and_pareto_page(tmp_path: Path) -> None:
    out = tmp_path / "acc"
    status = main(["accelerate", "--model", "mnist-cnn", "--data", "mnist", "--limit", "128",
                   "--sweep", "1.0,0.3", "--repeats", "1", "--out", str(out)])
    assert status == 0
    result = json.loads((out / "accelerate.json").read_text())
    assert result["calibration_examples"] == result["held_out_examples"] == 128
    totals = result["report"]["totals"]  # fewer parameters unless timing kept the original
    assert totals["params_after"] <= totals["params_before"]
    if totals["chosen"] == "original":
        assert totals["params_after"] == totals["params_before"]
    assert 0.9 < result["quality"]["accuracy"] <= 1.0 and result["quality"]["top1_agreement"] > 0.9
    assert [p["target_density"] for p in result["sweep"]] == [1.0, 0.3]
    page = (out / "accelerate.html").read_text()
    assert "data:image/png;base64," in page and 'href="report.html"' in page
    assert (out / "report.html").stat().st_size > 10_000


def test_accelerate_command_rejects_a_bad_density(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["accelerate", "--model", "mnist-cnn", "--data", "mnist", "--target-density", "2",
              "--out", str(tmp_path)])
    assert "density" in capsys.readouterr().err


def test_a_failure_while_writing_leaves_no_out(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("actsparse.cli.accelerate.write_page", broken)  # the last file
    out = tmp_path / "out"
    status = main(["accelerate", "--model", "mnist-cnn", "--data", "digits", "--limit", "8",
                   "--repeats", "1", "--out", str(out)])
    assert status == 2 and "disk full" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
