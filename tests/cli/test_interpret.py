"""`actsparse interpret` on the packaged MNIST CNN and on MiniLM with text."""

from __future__ import annotations

import json

import pytest
import torch

from actsparse.cli import main


def strict_json(path):
    def refuse(constant):
        raise ValueError(f"non-strict JSON constant {constant}")

    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("interp-mnist")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # far faster than two contended threads on the shared machine
    try:
        status = main(["interpret", "--model", "mnist-cnn", "--data", "mnist", "--limit", "512",
                       "--per-class", "30", "--units", "4", "--top-k", "5", "--out", str(out),
                       "--no-progress"])
    finally:
        torch.set_num_threads(threads)
    return status, out


def test_mnist_cnn_writes_strict_json_with_every_layer(mnist_run, capsys):
    status, out = mnist_run
    assert status == 0
    result = strict_json(out / "interpret.json")
    layers = ["features.1", "features.4", "classifier.1"]
    assert result["layers"] == layers and result["samples"] == 512 and result["labelled"]
    for layer in layers:
        sel, ov = result["selectivity"][layer], result["overlap"][layer]
        assert 0.0 <= sel["mean_index"] <= 1.0
        assert sum(sel["class_counts"]) == 512
        assert len(ov["matrix"]) == 10 and 0.0 <= ov["between"] <= ov["within"] <= 1.0
        assert ov["counts"] == [30] * 10
        assert len(result["overlap_vs_density"][layer]) == 6
        assert result["top_examples"][layer]["k"] == 5
    assert result["top_examples"]["features.4"]["kind"] == "spatial"
    assert len(result["galleries"]["features.4"]) == 4
    assert result["false_match"][0]["p_by_theta"][0] == 1.0


def test_mnist_cnn_page_has_the_expected_sections(mnist_run):
    _, out = mnist_run
    page = (out / "report.html").read_text()
    for section in ("Summary", "Class selectivity", "Preferred classes", "Overlap of active sets",
                    "Overlap against density", "False matches", "Top examples"):
        assert f"<h2>{section}</h2>" in page
    assert page.count('src="data:image/png;base64,') == 5 + 3  # plots + one gallery per layer
    assert "receptive field (8x8 pixels" in page  # features.4: conv3 -> pool2 -> conv3
    assert "http" not in page.split("<body>")[1]  # self-contained


def test_minilm_text_shows_token_snippets_and_skips_class_measures(tmp_path, minilm, capsys,
                                                                   one_thread):
    out = tmp_path / "interp-text"
    status = main(["interpret", "--model", "minilm", "--data", "text", "--limit", "6",
                   "--max-length", "32", "--top-k", "3", "--units", "2",
                   "--layers", "encoder.layer.0.intermediate.intermediate_act_fn",
                   "encoder.layer.5.intermediate.intermediate_act_fn",
                   "--out", str(out), "--no-progress"])
    assert status == 0
    result = strict_json(out / "interpret.json")
    assert result["selectivity"] is None and result["overlap"] is None
    assert "skipped" in result["notes"][0] and "skipped" in capsys.readouterr().out
    layers = result["layers"]
    assert len(layers) == 2 and all(result["top_examples"][k]["kind"] == "token" for k in layers)
    snippets = [s for g in result["galleries"].values() for u in g for s in u["snippets"]]
    assert len(snippets) == 2 * 2 * 3 and all(s[1] for s in snippets)
    page = (out / "report.html").read_text()
    assert page.count("<mark>") == len(snippets)
    assert "Class selectivity" not in page and "skipped" in page


@pytest.mark.parametrize(("extra", "message"), [
    (["--top-k", "0"], "argument --top-k: must be a positive integer"),
    (["--threshold", "-1"], "argument --threshold: must be a number >= 0"),
    (["--layers", "no.such.layer"], "matches no module"),
    (["--per-class", "1"], "--per-class must be at least 2"),
])
def test_bad_options_exit_with_a_clear_error(tmp_path, capsys, extra, message):
    try:
        status = main(["interpret", "--model", "mnist-cnn", "--data", "digits", "--limit", "32",
                       "--out", str(tmp_path), "--no-progress", *extra])
    except SystemExit as exit_:  # argparse's own checks exit
        status = int(exit_.code or 0)
    assert status == 2
    assert message in capsys.readouterr().err
