"""The `actsparse` command: files written, table printed, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import actsparse
from actsparse.cli import main


def test_profile_command_writes_all_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mnist"
    status = main(["profile", "--model", "mnist-cnn", "--data", "mnist", "--limit", "512",
                   "--out", str(out), "--no-progress"])
    assert status == 0
    for name in ("profile.safetensors", "profile.json", "report.html"):
        assert (out / name).stat().st_size > 0
    summary = json.loads((out / "profile.json").read_text())
    assert [layer["name"] for layer in summary["layers"]] == ["features.1", "features.4",
                                                              "classifier.1"]
    assert summary["layers"][0]["samples"] == 512
    assert actsparse.Profile.load(out).names == ["features.1", "features.4", "classifier.1"]
    printed = capsys.readouterr().out
    assert "features.4" in printed and "report.html" in printed


def test_profile_command_layers_option(tmp_path: Path) -> None:
    status = main(["profile", "--model", "mnist-cnn", "--data", "digits", "--limit", "64",
                   "--layers", "classifier.1", "features.?", "--out", str(tmp_path),
                   "--no-progress"])
    assert status == 0
    # in module order; the glob also takes the conv and pool modules of `features`
    assert actsparse.Profile.load(tmp_path).names == [
        "features.0", "features.1", "features.2", "features.3", "features.4", "features.5",
        "classifier.1",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "no-such-model", "--data", "mnist"], "no-such-model"),
        (["--model", "mnist-cnn", "--data", "no-such-data"], "no-such-data"),
        (["--model", "mnist-cnn", "--data", "mnist", "--layers", "nothing*"], "nothing*"),
    ],
)
def test_profile_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                args: list[str], message: str) -> None:
    status = main(["profile", *args, "--limit", "8", "--out", str(tmp_path), "--no-progress"])
    assert status == 1
    assert message in capsys.readouterr().err
