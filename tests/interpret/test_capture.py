"""Capturing activations streaming from real models; splicing an SAE back in (MiniLM, SmolLM2)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from actsparse import zoo
from actsparse.interpret.capture import (
    as_vectors,
    capture_activations,
    capture_pairs,
    map_vectors,
    resolve_layer,
    stream_activations,
)
from actsparse.interpret.sae_eval import downstream_effect, evaluate_sae, spliced
from actsparse.interpret.sae_train import train_sae

LAYER = "encoder.layer.3.output"


def _batches(zm: zoo.ZooModel, split: str, passages: int, size: int = 8,
             max_length: int = 64) -> list[dict[str, Any]]:
    data = zoo.load_data("text", split=split, limit=passages)
    return list(zm.batches(data, batch_size=size, max_length=max_length))


def test_capture_skips_padding_and_matches_unpadded_runs(minilm: zoo.ZooModel,
                                                          one_thread: None) -> None:
    batches = _batches(minilm, "test", 6, size=6)
    mask = batches[0]["attention_mask"]
    assert not bool(mask.all())  # the passages differ in length: there is padding
    vectors = capture_activations(minilm.module, batches, LAYER)
    assert vectors.shape == (int(mask.sum()), 384)
    alone = [capture_activations(minilm.module, _batches(minilm, "test", 6, size=1)[i:i + 1],
                                 LAYER) for i in range(6)]
    torch.testing.assert_close(vectors, torch.cat(alone), atol=2e-4, rtol=1e-4)


def test_capture_of_an_input_and_without_stopping_early(minilm: zoo.ZooModel,
                                                        one_thread: None) -> None:
    batches = _batches(minilm, "test", 4)
    gelu = capture_activations(minilm.module, batches, "encoder.layer.2.intermediate")
    into_dense = capture_activations(minilm.module, batches, "encoder.layer.2.output.dense:input")
    torch.testing.assert_close(gelu, into_dense)
    assert gelu.shape[1] == 1536
    full = capture_activations(minilm.module, batches, LAYER, stop_early=False)
    torch.testing.assert_close(full, capture_activations(minilm.module, batches, LAYER))


def test_capture_limit_and_streaming_chunks(minilm: zoo.ZooModel, one_thread: None) -> None:
    batches = _batches(minilm, "test", 8, size=4)
    chunks = list(stream_activations(minilm.module, batches, LAYER))
    assert [c.shape[0] for c in chunks] == [int(b["attention_mask"].sum()) for b in batches]
    everything = torch.cat(chunks)
    first = capture_activations(minilm.module, batches, LAYER, limit=50)
    torch.testing.assert_close(first, everything[:50])
    sample = capture_activations(minilm.module, batches, LAYER, limit=50, reservoir=True)
    assert sample.shape == (50, 384)
    found = (sample[:, None, :] == everything[None, :, :]).all(-1)  # (50, N)
    assert found.any(1).all()  # every sampled vector is one of the captured ones
    assert found.any(0).sum() == 50  # 50 different ones


def test_capture_pairs_are_row_aligned_inputs_and_outputs(minilm: zoo.ZooModel,
                                                          one_thread: None) -> None:
    batches = _batches(minilm, "test", 8, size=4)
    mlp_in, mlp_out = "encoder.layer.3.intermediate:input", LAYER
    x, y = capture_pairs(minilm.module, batches, mlp_in, mlp_out, limit=70)
    assert x.shape == y.shape == (70, 384)
    torch.testing.assert_close(x, capture_activations(minilm.module, batches, mlp_in, limit=70))
    torch.testing.assert_close(y, capture_activations(minilm.module, batches, LAYER, limit=70))
    dense = capture_pairs(minilm.module, batches, "encoder.layer.3.output.dense:input",
                          "encoder.layer.3.output.dense", limit=20)
    layer = minilm.module.get_submodule("encoder.layer.3.output.dense")
    with torch.no_grad():
        torch.testing.assert_close(layer(dense[0]), dense[1], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="the same layer"):
        capture_pairs(minilm.module, batches, LAYER, LAYER)
    with pytest.raises(ValueError, match="matches no module"):
        capture_pairs(minilm.module, batches, "nope", LAYER)


def test_reservoir_sample_is_uniform() -> None:
    net = nn.Sequential(nn.Identity())
    batches = [torch.arange(i * 10, i * 10 + 10, dtype=torch.float32).reshape(10, 1)
               for i in range(10)]  # 100 distinct vectors in 10 batches
    counts = torch.zeros(100)
    for seed in range(300):
        sample = capture_activations(net, batches, "0", limit=10, reservoir=True, seed=seed)
        assert sample.unique().numel() == 10  # no vector twice
        counts[sample.flatten().long()] += 1
    # each vector is kept with probability 0.1: 30 of 300 expected; binomial sd ~5.2
    assert counts.min() > 10 and counts.max() < 52
    assert abs(float(counts[:50].sum() - counts[50:].sum())) < 150  # early ~ late


def test_model_left_as_it_came_and_hooks_removed(minilm: zoo.ZooModel) -> None:
    net = nn.Sequential(nn.Linear(3, 5), nn.Dropout(0.5), nn.ReLU())
    net.train()
    capture_activations(net, [torch.randn(4, 3)], "2", limit=2)
    assert net.training and net[1].training
    assert all(len(m._forward_hooks) == 0 and len(m._forward_pre_hooks) == 0
               for m in net.modules())
    stream = stream_activations(minilm.module, _batches(minilm, "test", 4, size=2), LAYER)
    next(stream)  # suspended between batches: no hook stays on the model
    assert all(len(m._forward_hooks) == 0 for m in minilm.module.modules())
    stream.close()


def test_conv_maps_become_channel_vectors() -> None:
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    x = torch.randn(2, 1, 6, 6)
    vectors = capture_activations(net, [x], "1")
    assert vectors.shape == (2 * 4 * 4, 4)
    torch.testing.assert_close(vectors, net(x).permute(0, 2, 3, 1).reshape(-1, 4))
    maps = torch.randn(2, 4, 3, 3)
    torch.testing.assert_close(map_vectors(maps, lambda v: v), maps)
    assert as_vectors(torch.randn(5, 7)).shape == (5, 7)


def test_capture_errors(minilm: zoo.ZooModel) -> None:
    with pytest.raises(ValueError, match="matches no module; module names are: embeddings"):
        capture_activations(minilm.module, [], "encoder.layer.9.output")
    with pytest.raises(ValueError, match="matches 6 modules"):
        resolve_layer(minilm.module, "encoder.layer.?.output")
    net = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="limit must be a positive"):
        capture_activations(net, [torch.randn(3, 2)], "0", limit=0)
    with pytest.raises(ValueError, match="batches is empty"):
        capture_activations(net, [], "0")
    with pytest.raises(ValueError, match="batches is empty"):
        capture_activations(net, [], "0", limit=3, reservoir=True)

    class Skips(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used, self.unused = nn.Linear(2, 2), nn.Linear(2, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.used(x)

    with pytest.raises(ValueError, match="'unused' was not called"):
        capture_activations(Skips(), [torch.randn(3, 2)], "unused")


def test_short_sae_on_minilm_and_splice_cosine(minilm: zoo.ZooModel, one_thread: None) -> None:
    train = capture_activations(minilm.module, _batches(minilm, "train", 40), LAYER)
    held = _batches(minilm, "test", 16)
    result = train_sae(train, expansion=2, k=16, steps=60, batch_size=512, lr=2e-3)
    metrics = evaluate_sae(result.sae, capture_activations(minilm.module, held, LAYER))
    assert metrics["fvu"] < 0.5
    assert metrics["l0"] <= 16
    effect = downstream_effect(minilm.module, held, LAYER, result.sae)
    assert effect["task"] == "embedding" and effect["samples"] == 16
    assert effect["embedding_cosine"] > 0.8
    assert effect["embedding_cosine"] > effect["embedding_cosine_zero_ablated"] + 0.3
    assert all(len(m._forward_hooks) == 0 for m in minilm.module.modules())


def test_identity_splice_changes_nothing(minilm: zoo.ZooModel, one_thread: None) -> None:
    batch = _batches(minilm, "test", 3)[0]
    with torch.no_grad():
        clean = minilm.module(**batch).last_hidden_state
        with spliced(minilm.module, LAYER, lambda v: v):
            same = minilm.module(**batch).last_hidden_state
        with spliced(minilm.module, LAYER, lambda v: v * 0):
            zeroed = minilm.module(**batch).last_hidden_state
    torch.testing.assert_close(same, clean)
    assert not torch.allclose(zeroed, clean)
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    x = torch.randn(5, 3)
    with spliced(net, "1:input", torch.zeros_like):
        torch.testing.assert_close(net(x), net[1].bias.expand(5, 2))


@pytest.mark.slow
def test_smollm2_capture_and_loss_recovered(smollm2: zoo.ZooModel, one_thread: None) -> None:
    layer = "model.layers.15.mlp"
    train = capture_activations(smollm2.module, _batches(smollm2, "train", 24, max_length=96),
                                layer)
    assert train.shape[1] == 576
    held = _batches(smollm2, "test", 6, size=6, max_length=48)
    result = train_sae(train, expansion=2, k=32, steps=60, batch_size=512, lr=2e-3)
    effect = downstream_effect(smollm2.module, held, layer, result.sae)
    assert effect["task"] == "lm"
    assert effect["tokens"] == sum(int(b["attention_mask"].sum()) - b["input_ids"].shape[0]
                                   for b in held)
    assert effect["loss_clean"] < effect["loss_zero_ablated"]
    assert 0.3 < effect["loss_recovered"] <= 1.05
