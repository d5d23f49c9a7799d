"""``actsparse sae``: files written, metrics recorded, bad input refused with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from actsparse import zoo
from actsparse.cli import main
from actsparse.cli.sae import run_sae
from actsparse.interpret.sae_train import load_sae, sae_metadata

LAYER = "encoder.layer.3.output"
SMALL = dict(layer=LAYER, data_name="text", expansion=2.0, k=8, tokens=3000, steps=30,
             eval_limit=10, max_length=64, progress=False)


def test_run_sae_writes_the_files(minilm: zoo.ZooModel, one_thread: None, tmp_path: Path) -> None:
    result = run_sae(model_name=minilm, out=tmp_path, command="actsparse sae ...", **SMALL)
    saved = json.loads((tmp_path / "sae.json").read_text())
    assert saved["train"]["vectors"] == 3000
    assert saved["sae"] == {"d_in": 384, "n_latents": 768, "k": 8, "k_aux": 192,
                            "aux_coef": 1 / 32}
    for part in ("train", "held_out"):
        assert 0 < saved[part]["fvu"] < 1
        assert 0 < saved[part]["l0"] <= 8
        assert 0 <= saved[part]["dead_fraction"] <= 1
    assert saved["downstream"]["task"] == "embedding"
    assert saved["downstream"]["samples"] == 10
    assert 0.5 < saved["downstream"]["embedding_cosine"] <= 1
    assert saved["history"]["step"][-1] == 29
    hist = saved["density_histogram"]
    assert hist["dead"] + hist["live"] == 768
    assert result["held_out"]["fvu"] == saved["held_out"]["fvu"]
    latents = saved["top_latents"]
    assert latents and all(block["examples"] for block in latents)
    example = latents[0]["examples"][0]
    assert example["value"] > 0 and example["token"]
    page = (tmp_path / "report.html").read_text()
    assert "<mark>" in page and "data:image/png;base64," in page and "FVU" in page
    sae = load_sae(tmp_path / "sae.safetensors")
    assert (sae.d_in, sae.n_latents, sae.k) == (384, 768, 8)
    assert sae_metadata(tmp_path / "sae.safetensors")["meta"]["layer"] == LAYER


def test_cli_end_to_end(one_thread: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                        ) -> None:
    status = main(["sae", "--model", "minilm", "--layer", LAYER, "--data", "text",
                   "--out", str(tmp_path), "--expansion", "1", "--k", "4", "--tokens", "1500",
                   "--steps", "10", "--eval-limit", "6", "--max-length", "48", "--no-progress"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "embedding_cosine" in printed and "fvu" in printed
    saved = json.loads((tmp_path / "sae.json").read_text())
    assert saved["command"].startswith("actsparse ")
    assert saved["sae"]["n_latents"] == 384
    assert (tmp_path / "sae.safetensors").is_file() and (tmp_path / "report.html").is_file()


def test_cli_bad_layer_is_a_clear_error(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    status = main(["sae", "--model", "minilm", "--layer", "encoder.layer.9.output",
                   "--data", "text", "--out", str(tmp_path)])
    assert status == 2
    err = capsys.readouterr().err
    assert "'encoder.layer.9.output' matches no module; module names are: embeddings" in err


@pytest.mark.parametrize(("options", "message"), [
    (dict(n_latents=0), "--latents must be a positive number"),
    (dict(n_latents=-3), "--latents must be a positive number"),
    (dict(n_latents=16, k=32), "--k 32 is larger than --latents 16"),
    (dict(expansion=0.05, k=32), "k=32 is larger than the number of latents n_latents=19"),
    (dict(k=0), "--k must be at least 1"),
    (dict(tokens=0), "--tokens must be at least 1"),
    (dict(layer="encoder.nope"), "'encoder.nope' matches no module"),
])
def test_bad_options_raise_value_errors(minilm: zoo.ZooModel, tmp_path: Path,
                                        options: dict[str, object], message: str) -> None:
    kwargs = {**SMALL, "tokens": 200, **options}
    with pytest.raises(ValueError, match=message):
        run_sae(model_name=minilm, out=tmp_path, **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "sae.safetensors").exists()


def test_sae_of_another_width_is_refused(minilm: zoo.ZooModel, tmp_path: Path) -> None:
    from actsparse.interpret.sae import SparseAutoencoder
    from actsparse.interpret.sae_eval import downstream_effect

    batches = list(minilm.batches(zoo.load_data("text", limit=2), batch_size=2, max_length=16))
    sae = SparseAutoencoder(576, 1152, k=8)  # a SmolLM2-width SAE on a MiniLM layer
    with pytest.raises(ValueError, match="width 384 .* d_in=576"):
        downstream_effect(minilm.module, batches, LAYER, sae)
    assert all(len(m._forward_hooks) == 0 for m in minilm.module.modules())
    with torch.no_grad():  # the model still works afterwards
        minilm.module(**batches[0])


def test_run_sae_on_an_image_model_conv_layer(one_thread: None, tmp_path: Path) -> None:
    # a user's file has no splits: every 10th image is held out
    images = torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    torch.save(images, tmp_path / "digits.pt")
    result = run_sae(model_name="mnist-cnn", layer="features.1",
                     data_name=str(tmp_path / "digits.pt"), out=tmp_path / "run",
                     expansion=2.0, k=4, tokens=30000, steps=20, progress=False)
    assert result["sae"]["d_in"] == 32  # conv channels: one vector per position
    assert result["train"]["vectors"] == 36 * 28 * 28  # every 10th image held out
    assert result["held_out"]["vectors"] == 4 * 28 * 28  # padded 3x3 convs keep 28x28
    assert result["downstream"]["task"] == "embedding"
    assert -1 <= result["downstream"]["embedding_cosine"] <= 1
    assert result["top_latents"] == []
    assert (tmp_path / "run" / "report.html").is_file()


def test_cli_failure_while_writing_leaves_no_out(one_thread: None, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("actsparse.cli.sae.write_sae_page", broken)  # after the weights, JSON
    out = tmp_path / "out"
    status = main(["sae", "--model", "minilm", "--layer", LAYER, "--data", "text",
                   "--out", str(out), "--expansion", "1", "--k", "4", "--tokens", "300",
                   "--steps", "2", "--eval-limit", "2", "--max-length", "16", "--no-progress"])
    assert status == 2 and "disk full" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cli_arch_flag_trains_that_architecture(one_thread: None, tmp_path: Path) -> None:
    status = main(["sae", "--model", "minilm", "--layer", LAYER, "--data", "text",
                   "--out", str(tmp_path), "--expansion", "1", "--k", "4", "--tokens", "1500",
                   "--steps", "10", "--eval-limit", "6", "--max-length", "48", "--no-progress",
                   "--arch", "batchtopk"])
    assert status == 0
    saved = json.loads((tmp_path / "sae.json").read_text())
    assert saved["sae"]["architecture"] == saved["training"]["architecture"] == "batchtopk"
    assert load_sae(tmp_path / "sae.safetensors").architecture == "batchtopk"
    assert saved["history"]["l0"][0] == 4.0  # k on average over each training batch


def test_run_sae_transcoder_of_an_mlp_block(minilm: zoo.ZooModel, one_thread: None,
                                            tmp_path: Path) -> None:
    source = "encoder.layer.3.intermediate:input"
    result = run_sae(model_name=minilm, out=tmp_path, **{**SMALL, "layer": source},
                     target_layer=LAYER, architecture="jumprelu")
    assert result["target_layer"] == LAYER
    assert result["sae"]["d_out"] == 384 and result["sae"]["architecture"] == "jumprelu"
    assert 0 < result["held_out"]["fvu"] < 1
    assert result["downstream"] == {"task": "transcoder (not spliced)"}
    sae = load_sae(tmp_path / "sae.safetensors")
    assert sae.d_out == 384


def test_unknown_arch_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sae", "--model", "minilm", "--layer", LAYER, "--data", "text", "--out", "x",
              "--arch", "gated"])
    assert "invalid choice: 'gated'" in capsys.readouterr().err
