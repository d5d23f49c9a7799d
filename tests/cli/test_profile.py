"""The `actsparse` command: files written, table printed, clear errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

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
    assert status == 2
    assert message in capsys.readouterr().err


# -- issue 15.3: the CLI feeds a user's data as the API does ---------------------------------
def _frames() -> torch.Tensor:
    """Speech-like frames: 64 frames of 1024 samples (16 kHz), float, peaks above 1."""
    t = torch.arange(64 * 1024, dtype=torch.float32) / 16000
    wave = 2.5 * torch.sin(2 * math.pi * 220 * t) * torch.sin(2 * math.pi * 3 * t)
    return (wave + 0.05 * torch.sin(2 * math.pi * 1900 * t)).reshape(64, 1024)


def test_user_model_on_float_frames_matches_the_api(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1024, 8), nn.ReLU(), nn.Linear(8, 2))
    torch.save(model, tmp_path / "model.pt")
    frames = _frames()
    torch.save(frames, tmp_path / "frames.pt")
    api = actsparse.profile(model, [frames])
    status = main(["profile", "--model", str(tmp_path / "model.pt"), "--data",
                   str(tmp_path / "frames.pt"), "--out", str(tmp_path / "out"), "--no-progress"])
    assert status == 0
    cli = actsparse.Profile.load(tmp_path / "out")
    assert cli["1"].dead_units().tolist() == api["1"].dead_units().tolist()
    assert cli["1"].density == pytest.approx(api["1"].density)
    assert cli["1"].summary()["max"] == pytest.approx(api["1"].summary()["max"])


def test_rows_that_do_not_fit_a_zoo_model_name_the_expected_shape(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "rows.npy", _frames().numpy())
    status = main(["profile", "--model", "mnist-cnn", "--data", str(tmp_path / "rows.npy"),
                   "--out", str(tmp_path / "out"), "--no-progress"])
    assert status == 2
    err = capsys.readouterr().err
    assert "takes images of shape (N, 1, 28, 28)" in err and "rows of 1024 values" in err


def test_flattened_mnist_rows_feed_the_mnist_cnn(tmp_path: Path) -> None:
    from actsparse import zoo

    images = zoo.load_data("mnist", limit=64).images  # (64, 1, 28, 28) in [0, 1]
    np.save(tmp_path / "rows.npy", (images.reshape(64, 784) * 255).round().numpy().astype("uint8"))
    status = main(["profile", "--model", "mnist-cnn", "--data", str(tmp_path / "rows.npy"),
                   "--out", str(tmp_path / "out"), "--no-progress"])
    assert status == 0
    assert actsparse.Profile.load(tmp_path / "out")["features.1"].samples == 64
