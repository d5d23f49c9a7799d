"""``actsparse train``: a run from the command line, its files, and errors said in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from actsparse import zoo
from actsparse.cli import main
from actsparse.cli.train import add_parser, command_line, settings
from actsparse.interpret.conv_coding import fit_patch_dictionary
from actsparse.train import load_checkpoint
from actsparse.train.loop import SC_DICTIONARY
from actsparse.train.spec import SC_ITERS

LIMIT = 400  # training images: a 1-epoch cnn run takes well under a second

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def small_dictionary_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Learn the sc front end from fewer patches than a real run does: the tests check the
    mechanism (what is learned when, and kept), not the dictionary's quality."""
    monkeypatch.setitem(SC_DICTIONARY, "n_patches", 2000)
    monkeypatch.setitem(SC_DICTIONARY, "n_epochs", 1)


def test_cli_run_writes_metrics_and_a_checkpoint(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "--model", "cnn", "--data", "digits", "--sparsity", "kwta:0.2",
            "--epochs", "1", "--limit", str(LIMIT), "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("test_accuracy", "train_accuracy", "density", "epochs", "seconds", "command",
                "sparsity"):
        assert key in metrics, key
    assert 0.2 < metrics["test_accuracy"] <= 1.0  # 10 classes: chance is 0.1
    assert list(metrics["density"]) == ["act1", "act2", "act3"]
    assert all(0.15 <= d <= 0.2 for d in metrics["density"].values())
    assert metrics["sparsity"] == "kwta:0.2" and metrics["epochs"] == 1
    assert "--sparsity kwta:0.2" in metrics["command"]
    ckpt = load_checkpoint(tmp_path / "checkpoint.safetensors")
    assert ckpt.epoch == 1 and ckpt.run["sparsity"] == "kwta:0.2"
    assert "test accuracy" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sparsity", "kwta:1.5"], "DENSITY must be in (0, 1], got 1.5"),
        (["--sparsity", "kl:0.05"], "kl takes 2 value(s), got 1"),
        (["--sparsity", "topk:300"], "k=300 is larger than layer act1, which has 256 units"),
        (["--epochs", "0"], "argument --epochs: must be a positive integer, got '0'"),
        (["--lr-decay", "1.5"], "argument --lr-decay: must be a number in (0, 1]"),
        (["--lr", "nan"], "argument --lr: must be a number > 0"),
    ],
)
def test_cli_bad_input_gets_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          args: list[str], message: str) -> None:
    argv = ["train", "--model", "mlp", "--data", "digits", "--out", str(tmp_path),
            "--no-progress", *args]
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own checks exit
        status = int(exit_.code or 0)
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("actsparse train: error:") and message in err


def test_cli_resume_of_another_model_fails_with_the_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--data", "digits", "--epochs", "1", "--limit", str(LIMIT), "--out", str(tmp_path),
              "--no-progress"]
    assert main(["train", "--model", "mlp", *common]) == 0
    assert main(["train", "--model", "cnn", "--resume", *common]) == 2
    assert "model is 'mlp' there but 'cnn' here" in capsys.readouterr().err


def test_cli_mlp_with_sc_is_refused_with_the_reason(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "--model", "mlp", "--data", "digits", "--sparsity", "sc:0.1",
            "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 2
    assert "use --model cnn" in capsys.readouterr().err


@pytest.mark.usefixtures("small_dictionary_fit")
def test_cli_sc_run_learns_the_dictionary_and_reports_densities(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "--model", "cnn", "--data", "digits", "--sparsity", "sc:0.1",
            "--epochs", "1", "--limit", str(LIMIT), "--out", str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["sparsity"] == "sc:0.1"
    assert list(metrics["density"]) == ["act1", "act2", "act3"]
    assert 0.0 < metrics["density"]["act1"] < 0.3  # sparse codes
    assert metrics["test_accuracy"] > 0.2  # 10 classes: chance is 0.1
    first = metrics["history"][0]
    assert first["dictionary_seconds"] > 0
    assert metrics["seconds"] == pytest.approx(first["seconds"] + first["dictionary_seconds"])
    ckpt = load_checkpoint(tmp_path / "checkpoint.safetensors")
    assert ckpt.run["front_end"] == {"n_iter": SC_ITERS, **SC_DICTIONARY}
    images = zoo.load_data("digits", split="train", limit=LIMIT).images
    learned = fit_patch_dictionary(images, 30, 3, alpha=0.1, padding=1, seed=0,
                                   **SC_DICTIONARY)
    # the seed of the cli, 0 (set_dictionary rescales the unit atoms: equal to rounding)
    torch.testing.assert_close(ckpt.model["conv1.dictionary"], learned, rtol=1e-6, atol=1e-7)
    assert "test accuracy" in capsys.readouterr().out


def test_command_line_repeats_the_run_with_every_setting() -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="actsparse")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", "--model", "cnn", "--data", "digits", "--limit", "50",
                              "--threads", "1", "--out", "r"])
    words = command_line(args).split()
    assert words[:2] == ["actsparse", "train"] and words[-4:] == ["--limit", "50",
                                                                   "--threads", "1"]
    again = parser.parse_args(words[1:])  # the per-model defaults spelled out
    assert settings(again) == settings(args) == (3, 0.7)
    assert vars(again) == {**vars(args), "epochs": 3, "lr_decay": 0.7}
    dae = parser.parse_args(["train", "--model", "mult-dae", "--data", "movielens-100k",
                             "--out", "r"])
    assert settings(dae) == (100, 1.0) and "--epochs 100 " in command_line(dae)
