"""The sparse-coding front-end variant, sc:ALPHA[:ITERS]: spec, model, training and resuming."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from actsparse.interpret import conv_coding
from actsparse.interpret.conv_coding import SparseCodingConv2d
from actsparse.train import (
    SparsitySpec,
    SparsitySpecError,
    TrainConfig,
    build_model,
    load_checkpoint,
    model_config,
    parse_sparsity,
    train,
)
from actsparse.train.loop import SC_DICTIONARY
from actsparse.train.spec import SC_ITERS

LIMIT = 400  # digits training images

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def small_dictionary_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Learn the front end from fewer patches than a real run does: these tests check the
    mechanism (what is learned when, and kept), not the dictionary's quality."""
    monkeypatch.setitem(SC_DICTIONARY, "n_patches", 2000)
    monkeypatch.setitem(SC_DICTIONARY, "n_epochs", 1)


def config(**kw: object) -> TrainConfig:
    base: dict[str, object] = {"model": "cnn", "data": "digits", "sparsity": "sc:0.2",
                               "epochs": 1, "seed": 3, "batch_size": 64, "train_limit": LIMIT}
    return TrainConfig(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected", "printed"),
    [
        ("sc:0.1", SparsitySpec("sc", alpha=0.1, iters=SC_ITERS), "sc:0.1"),
        ("sc:0.25:30", SparsitySpec("sc", alpha=0.25, iters=30), "sc:0.25:30"),
        (f"SC:1e-2:{SC_ITERS}", SparsitySpec("sc", alpha=0.01, iters=SC_ITERS), "sc:0.01"),
    ],
)
def test_sc_specs_parse_and_print_back(text: str, expected: SparsitySpec, printed: str) -> None:
    spec = parse_sparsity(text)
    assert spec == expected and str(spec) == printed
    assert parse_sparsity(str(spec)) == spec
    assert not spec.is_penalty


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sc", "sc takes 1 or 2 value(s), got 0; write sc:ALPHA or sc:ALPHA:ITERS"),
        ("sc:0.1:5:2", "sc takes 1 or 2 value(s), got 3"),
        ("sc:0", "ALPHA must be > 0, got 0; write sc:ALPHA"),
        ("sc:-0.5", "ALPHA must be > 0, got -0.5"),
        ("sc:inf", "'inf' is not finite"),
        ("sc:abc", "'abc' is not a number; write sc:ALPHA"),
        ("sc:0.1:0", "ITERS must be >= 1, got 0"),
        ("sc:0.1:2.5", "ITERS must be a whole number, got '2.5'"),
    ],
)
def test_bad_sc_specs_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SparsitySpecError) as err:
        parse_sparsity(text)
    assert message in str(err.value)


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8)])
def test_cnn_front_end_replaces_conv1_and_keeps_the_rest(shape: tuple[int, int, int]) -> None:
    cfg = model_config("cnn", shape)
    torch.manual_seed(0)
    sc = build_model(cfg, parse_sparsity("sc:0.2:7"))
    dense = build_model(cfg, parse_sparsity("none"))
    assert isinstance(sc.conv1, SparseCodingConv2d) and isinstance(dense.conv1, nn.Conv2d)
    assert sc.conv1.kernel_size == dense.conv1.kernel_size
    assert sc.conv1.padding == dense.conv1.padding
    assert (sc.conv1.out_channels, sc.conv1.alpha, sc.conv1.n_iter) == (30, 0.2, 7)
    assert all(isinstance(getattr(sc, f"act{i}"), nn.ReLU) for i in (1, 2, 3))
    dense_names = {n for n, _ in dense.named_parameters()}
    assert {n for n, _ in sc.named_parameters()} == dense_names - {"conv1.weight", "conv1.bias"}
    x = torch.rand(3, *shape)
    logits = sc(x)
    assert logits.shape == (3, 10)
    logits.sum().backward()
    assert all(p.grad is not None for p in sc.parameters())


def test_mlp_with_sc_is_refused_with_the_reason() -> None:
    with pytest.raises(SparsitySpecError, match="the mlp has none: use --model cnn"):
        build_model(model_config("mlp", (1, 8, 8)), parse_sparsity("sc:0.1"))


def test_resumed_sc_run_ends_exactly_as_an_uninterrupted_one_without_relearning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = train(config(epochs=2), tmp_path / "whole", progress=False)

    class Stop(Exception):
        pass

    def interrupt(epoch: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        train(config(epochs=2), tmp_path / "cut", progress=False, on_epoch=interrupt)
    first = load_checkpoint(tmp_path / "cut" / "checkpoint.safetensors").model["conv1.dictionary"]

    def relearn(*args: object, **kwargs: object) -> torch.Tensor:
        raise AssertionError("a resumed run must take the dictionary from its checkpoint")

    monkeypatch.setattr(conv_coding, "fit_patch_dictionary", relearn)
    resumed = train(config(epochs=2), tmp_path / "cut", resume=True, progress=False)

    for key in ("test_accuracy", "train_accuracy", "density", "epochs"):
        assert resumed[key] == whole[key], key
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in whole["history"]]
    a = load_checkpoint(tmp_path / "whole" / "checkpoint.safetensors")
    b = load_checkpoint(tmp_path / "cut" / "checkpoint.safetensors")
    assert a.model.keys() == b.model.keys()
    for name, value in a.model.items():
        torch.testing.assert_close(b.model[name], value, rtol=0, atol=0)
    assert torch.equal(b.model["conv1.dictionary"], first)  # fixed during training


def test_checkpoint_of_another_front_end_is_refused(tmp_path: Path) -> None:
    train(config(), tmp_path, progress=False)
    with pytest.raises(ValueError, match="sparsity is 'sc:0.2' there but 'sc:0.2:5' here"):
        train(config(sparsity="sc:0.2:5"), tmp_path, resume=True, progress=False)
