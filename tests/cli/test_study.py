"""``actsparse study``: arguments, errors, and a tiny run from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from actsparse.cli import main
from actsparse.cli.study import add_parser, claims_text


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="actsparse")
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["study", *argv])


def test_defaults_and_options() -> None:
    args = parse("--data", "fashion-mnist", "--seeds", "5", "--epochs", "2", "--variants",
                 "dense", "kwta", "--train-limit", "1000", "--out", "s", "--no-progress")
    assert (args.data, args.seeds, args.epochs, args.variants, args.train_limit,
            args.no_progress) == ("fashion-mnist", 5, 2, ["dense", "kwta"], 1000, True)


def test_unknown_data_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse("--data", "cifar", "--out", "s")
    assert exit_info.value.code == 2
    assert "unknown data 'cifar'; choose mnist" in capsys.readouterr().err


def test_ratings_data_and_reuse_parse() -> None:
    args = parse("--data", "movielens-100k", "--reuse", "runs/rs", "--out", "s")
    assert (args.data, args.reuse, args.epochs) == ("movielens-100k", "runs/rs", None)


@pytest.mark.parametrize(("argv", "message"), [
    (["--seeds", "0"], "argument --seeds: must be a positive integer"),
    (["--variants", "kwta"], "must include 'dense'"),
    (["--variants", "dense", "bogus"], "unknown variant(s) bogus"),
    (["--threads", "0"], "--threads must be >= 1"),
    (["--reuse", "runs/rs"], "--reuse takes the run folders of benchmarks.recsys_sparse"),
    (["--variants", "dense", "topk"], "variant(s) topk are for ratings studies"),
    (["--jobs", "2"], "an image study trains its runs one after another"),
])
def test_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                          message: str) -> None:
    try:
        status = main(["study", "--data", "digits", "--out", str(tmp_path), *argv])
    except SystemExit as exit_:  # argparse's own checks exit
        status = int(exit_.code or 0)
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("actsparse study: error:") and message in err


def test_a_tiny_study_from_the_command_line(tmp_path: Path, one_thread: None,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "study"
    status = main(["study", "--data", "digits", "--seeds", "1", "--epochs", "1", "--variants",
                   "dense", "l1", "--train-limit", "200", "--test-limit", "40", "--out",
                   str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    assert f"report: {(out / 'report.html').resolve()}" in printed
    assert "[2/2] l1 seed 0: trained" in printed
    study = json.loads((out / "study.json").read_text())
    assert [v["name"] for v in study["variants"]] == ["dense", "l1"]
    assert {c["verdict"] for c in study["claims"]} == {"inconclusive"}  # one seed
    assert "inconclusive" in claims_text(study)
    assert (out / "runs" / "l1" / "seed0" / "measure.json").is_file()


def test_claims_text_shows_the_anchor() -> None:
    study = {"claims": [], "anchor": {"available": True, "numenta": [
        {"model": "Numenta dense CNN", "accuracy": 0.9931, "noise_score": 97040}],
        "ours": [{"variant": "dense", "test_images": 2000, "seeds": 1,
                  "accuracy": {"mean": 0.99, "hi": None}, "noise_score": {"mean": 19000.0,
                                                                          "hi": None},
                  "noise_score_per_10k": {"mean": 95000.0}}]}}
    text = claims_text(study)
    assert "97,040" in text and "ours: dense" in text and "19,000" in text
    assert "95,000 per 10,000" in text


def test_an_interrupted_study_says_how_to_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import actsparse.study.study as study_module

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(study_module, "run_study", interrupted)
    status = main(["study", "--data", "digits", "--out", str(tmp_path)])
    assert status == 130
    assert "run the same command again to resume" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["--train-limit", "100"], "--train-limit and --test-limit cut image data"),
    (["--variants", "dense", "sc"], "variant(s) sc are for image studies"),
    (["--variants", "dense", "kwta", "--seeds", "0"], "argument --seeds"),
])
def test_ratings_study_refuses_what_makes_no_sense(tmp_path: Path, argv: list[str], message: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    try:
        status = main(["study", "--data", "movielens:/nonexistent/u.data", "--out",
                       str(tmp_path / "s"), *argv])
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) >= 1 and message in err[-1]
    assert not (tmp_path / "s").exists()
