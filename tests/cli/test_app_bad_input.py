"""Bad input to every subcommand: one line on stderr, exit status 2, nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from actsparse.cli import app, main

TINY = ["--model", "mnist-cnn", "--limit", "16", "--no-progress"]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The exit status of ``actsparse argv`` (argparse's SystemExit included) and stderr."""
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return status, captured.err


def _assert_one_line_error(status: int, err: str) -> None:
    assert status == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith("actsparse") and "error:" in last


def _data_files(tmp: Path) -> dict[str, Path]:
    text = tmp / "notes.txt"
    text.write_text("not data\n")
    empty = tmp / "empty.npy"
    empty.write_bytes(b"")
    return {"missing": tmp / "nope.npy", "text": text, "empty": empty}


@pytest.mark.parametrize("kind", ["missing", "text", "empty"])
def test_profile_bad_data_is_one_line(kind: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    data = _data_files(tmp_path)[kind]
    out = tmp_path / "out"
    status, err = _run(["profile", *TINY, "--data", str(data), "--out", str(out)], capsys)
    _assert_one_line_error(status, err)
    assert not out.exists()


@pytest.mark.parametrize("model", ["x.onnx", "weights.pt", "no-such-zoo-model"])
def test_profile_bad_model_is_one_line(model: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    if model.endswith(".pt"):
        import torch
        torch.save({"w": torch.zeros(2)}, tmp_path / model)  # a state dict, not a model
    out = tmp_path / "out"
    status, err = _run(["profile", "--model", str(tmp_path / model), "--data", "digits",
                        "--out", str(out), "--no-progress"], capsys)
    _assert_one_line_error(status, err)
    assert not out.exists()


SUBCOMMANDS = {
    "profile": ["profile", *TINY, "--data", "digits"],
    "train": ["train", "--model", "cnn", "--data", "digits", "--epochs", "1"],
    "interpret": ["interpret", *TINY, "--data", "digits"],
    "accelerate": ["accelerate", "--model", "mnist-cnn", "--data", "digits", "--limit", "16"],
    "study": ["study", "--data", "digits"],
}


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_out_an_existing_file_is_refused_up_front(command: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "taken"
    out.write_text("keep me")
    status, err = _run([*SUBCOMMANDS[command], "--out", str(out)], capsys)
    _assert_one_line_error(status, err)
    assert "is a file" in err and out.read_text() == "keep me"


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_out_under_a_file_is_refused(command: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    status, err = _run([*SUBCOMMANDS[command], "--out", str(blocker / "sub")], capsys)
    _assert_one_line_error(status, err)


def test_unwritable_out_is_refused_up_front(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app.check_out.__globals__["os"], "access", lambda *a: False)
    status, err = _run([*SUBCOMMANDS["profile"], "--out", str(tmp_path / "o")], capsys)
    _assert_one_line_error(status, err)
    assert "not writable" in err and not (tmp_path / "o").exists()


@pytest.mark.parametrize("option", ["--batch-size", "--limit", "--max-length"])
@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_non_positive_sizes_are_rejected(option: str, value: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    status, err = _run(["profile", "--model", "mnist-cnn", "--data", "digits",
                        "--out", str(tmp_path / "o"), option, value], capsys)
    _assert_one_line_error(status, err)
    assert option in err


def test_ctrl_c_is_one_line_and_130(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(**kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("actsparse.cli.profile.run_profile", interrupted)
    status, err = _run([*SUBCOMMANDS["profile"], "--out", str(tmp_path / "o")], capsys)
    assert status == 130 and err.strip().endswith("interrupted")
    assert len(err.strip().splitlines()) == 1


def test_model_runtime_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong_shape(**kwargs: object) -> int:
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied\n(4x7 and 3136x128)")

    monkeypatch.setattr("actsparse.cli.profile.run_profile", wrong_shape)
    status, err = _run([*SUBCOMMANDS["profile"], "--out", str(tmp_path / "o")], capsys)
    _assert_one_line_error(status, err)
    assert len(err.strip().splitlines()) == 1 and "shapes" in err


def test_debug_shows_the_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(**kwargs: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr("actsparse.cli.profile.run_profile", broken)
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", *SUBCOMMANDS["profile"], "--out", str(tmp_path / "o")])


def _fail_midway(*args: object, **kwargs: object) -> None:
    raise OSError("disk full")


MIDWAY = {  # a writer that runs after some output files are already written
    "profile": ("actsparse.cli.profile.report.write_report", SUBCOMMANDS["profile"]),
    "interpret": ("actsparse.cli.interpret.write_interpret_page", SUBCOMMANDS["interpret"]),
}  # accelerate writes through the same staged_out, but its timings take ~10 s: not here


@pytest.mark.parametrize(("command", "existing"),
                         [("profile", False), ("profile", True), ("interpret", True)])
def test_a_failure_while_writing_leaves_nothing_half_written(
        command: str, existing: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    target, argv = MIDWAY[command]
    monkeypatch.setattr(target, _fail_midway)
    out = tmp_path / "out"
    if existing:
        out.mkdir()
    status, err = _run([*argv, "--out", str(out)], capsys)
    _assert_one_line_error(status, err)
    assert "disk full" in err
    assert [p.name for p in tmp_path.iterdir()] == (["out"] if existing else [])
    assert not existing or list(out.iterdir()) == []


def test_a_failed_training_epoch_leaves_no_out(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("actsparse.train.loop._epoch", _fail_midway)
    out = tmp_path / "out"
    status, err = _run([*SUBCOMMANDS["train"], "--limit", "32", "--no-progress",
                        "--out", str(out)], capsys)
    _assert_one_line_error(status, err)
    assert list(tmp_path.iterdir()) == []


def _wrong_shape_case(case: str, tmp: Path) -> tuple[str, Path, str]:
    """``(model, data file, what the error must name)`` of a data file the model cannot take."""
    import numpy as np
    import torch
    from torch import nn

    if case == "rows-for-zoo-cnn":
        np.save(tmp / "rows.npy", np.random.rand(4, 7).astype(np.float32))
        return "mnist-cnn", tmp / "rows.npy", "(4, 7)"
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten())
    if case == "features-for-mlp":
        net = nn.Sequential(nn.Linear(10, 4), nn.ReLU())
    torch.save(net, tmp / "net.pt")
    if case == "channels-for-cnn":
        torch.save(torch.rand(4, 2, 8, 8), tmp / "x.pt")
        return str(tmp / "net.pt"), tmp / "x.pt", "takes 3 channels"
    if case == "rows-for-cnn":
        np.save(tmp / "x.npy", np.random.rand(4, 64).astype(np.float32))
        return str(tmp / "net.pt"), tmp / "x.npy", "(4, 64)"
    np.save(tmp / "x.npy", np.random.rand(4, 7).astype(np.float32))
    return str(tmp / "net.pt"), tmp / "x.npy", "takes 10 features"


@pytest.mark.parametrize("command", ["profile", "interpret"])
@pytest.mark.parametrize("case", ["rows-for-zoo-cnn", "channels-for-cnn", "rows-for-cnn",
                                  "features-for-mlp"])
def test_wrong_shape_data_names_both_shapes(command: str, case: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    model, data, named = _wrong_shape_case(case, tmp_path)
    out = tmp_path / "out"
    status, err = _run([command, "--model", model, "--data", str(data), "--out", str(out),
                        "--no-progress"], capsys)
    _assert_one_line_error(status, err)
    assert len(err.strip().splitlines()) == 1
    assert f"data {data} has shape" in err and named in err and not out.exists()


COUNTS = {  # subcommand options that must be positive, (0, 1] or >= 0; and their base command
    "interpret": (["--top-k", "--units", "--per-class"], SUBCOMMANDS["interpret"]),
    "sae": (["--k", "--tokens", "--steps", "--latents", "--batch-size", "--dead-tokens",
             "--eval-limit", "--model-batch-size"],
            ["sae", "--model", "mnist-cnn", "--layer", "features.1", "--data", "digits"]),
    "study": (["--seeds", "--epochs", "--train-limit", "--test-limit"], SUBCOMMANDS["study"]),
    "train": (["--epochs"], SUBCOMMANDS["train"]),
    "accelerate": (["--limit", "--repeats"], SUBCOMMANDS["accelerate"]),
    "demo": (["--limit"], ["demo"]),
}
CASES = [(cmd, opt, v) for cmd, (opts, _) in sorted(COUNTS.items()) for opt in opts
         for v in ("0", "-2", "many")]
CASES += [("train", "--lr-decay", v) for v in ("0", "1.5", "x")]
CASES += [("train", "--lr", v) for v in ("0", "-1", "inf")]
CASES += [("sae", opt, v) for opt in ("--lr", "--epochs", "--expansion") for v in ("0", "nan")]
CASES += [("accelerate", "--min-speedup", "0"), ("interpret", "--threshold", "-0.1"),
          ("interpret", "--seed", "-1"), ("train", "--seed", "x")]


@pytest.mark.parametrize(("command", "option", "value"), CASES)
def test_bad_counts_and_fractions_exit_2_naming_the_option(
        command: str, option: str, value: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*COUNTS[command][1], "--out", str(tmp_path / "o"), option, value]
    status, err = _run(argv, capsys)
    _assert_one_line_error(status, err)
    assert f"argument {option}:" in err.strip().splitlines()[-1] and value in err
    assert not (tmp_path / "o").exists()


def test_bench_bad_shape_and_unwritable_json(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    status, err = _run(["bench", "kernels", "--json", str(tmp_path / "k.json"),
                        "--shape", "0", "8"], capsys)
    _assert_one_line_error(status, err)
    assert "--shape" in err
    blocker = tmp_path / "file"
    blocker.write_text("")
    status, err = _run(["bench", "kernels", "--json", str(blocker / "k.json"), "--repeats", "1",
                        "--shape", "8", "8"], capsys)
    _assert_one_line_error(status, err)


@pytest.mark.parametrize("command", ["sae", "interpret", "study-out", "demo-out"])
def test_missing_data_and_bad_out_of_the_other_subcommands(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("keep")
    if command == "sae":
        argv = ["sae", "--model", "mnist-cnn", "--layer", "features.1", "--data",
                str(tmp_path / "nope.npy"), "--out", str(tmp_path / "o"), "--no-progress"]
    elif command == "interpret":
        argv = ["interpret", "--model", "mnist-cnn", "--data", str(tmp_path / "nope.npy"),
                "--out", str(tmp_path / "o"), "--no-progress"]
    elif command == "study-out":
        argv = [*SUBCOMMANDS["study"], "--out", str(blocker)]
    else:
        argv = ["demo", "--out", str(blocker)]
    status, err = _run(argv, capsys)
    _assert_one_line_error(status, err)
    assert not (tmp_path / "o").exists() and blocker.read_text() == "keep"
    assert "does not exist" in err or "is a file" in err


class Branchy(torch.nn.Module):
    """A model whose second activation never runs (pickled by reference: defined here)."""

    def __init__(self) -> None:
        super().__init__()
        self.used, self.unused = torch.nn.ReLU(), torch.nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.used(x.flatten(1))


def test_layers_that_never_ran_are_one_warning_line(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    torch.save(Branchy(), tmp_path / "net.pt")
    torch.save(torch.rand(4, 1, 8, 8), tmp_path / "x.pt")
    status, err = _run(["profile", "--model", str(tmp_path / "net.pt"), "--data",
                        str(tmp_path / "x.pt"), "--out", str(tmp_path / "o"), "--no-progress"],
                       capsys)
    assert status == 0
    lines = [line for line in err.splitlines() if "warning" in line.lower()]
    assert len(lines) == 1 and lines[0].startswith("actsparse profile: warning: ")
    assert "unused" in lines[0] and "never ran" in lines[0]
