"""Profiling the packaged pretrained models on real data: what a user would check first."""

from __future__ import annotations

import pytest
import torch

import actsparse
from actsparse import zoo


def test_mnist_cnn_on_mnist() -> None:
    model = zoo.load_model("mnist-cnn")
    data = zoo.load_data("mnist", split="test", limit=1024)
    prof = actsparse.profile(model.module, model.batches(data, batch_size=256), inputs=True)
    relus = [n for n in prof.names if not n.endswith(":input")]
    assert relus == ["features.1", "features.4", "classifier.1"]
    for name in relus:
        layer = prof[name]
        assert layer.samples == 1024
        assert layer.zero_fraction > 0.5, name  # ReLU maps of a trained CNN are mostly zero
        assert layer.density == pytest.approx(1 - layer.zero_fraction)
    conv = prof["features.1"]
    assert conv.units == 32 and conv.spatial == (28, 28)
    heat = conv.spatial_map()
    assert heat is not None and heat.shape == (28, 28)
    assert heat[14, 14] > heat[0, 0]  # strokes sit in the middle of the image, not the corner
    # The first Linear sees the flattened pooled ReLU map: the same zeros a sparse kernel skips.
    assert prof["classifier.0:input"].density < 0.5
    union = prof["features.4"].union_density()
    assert union[1] <= union[8] <= union[64] <= 1.0


def test_mobilenetv2_on_photos() -> None:
    model = zoo.load_model("mobilenetv2")
    data = zoo.load_data("photos")
    prof = actsparse.profile(model.module, model.batches(data, batch_size=8))
    assert len(prof) == 35  # every ReLU6 of torchvision's MobileNetV2
    zeros = torch.tensor([layer.zero_fraction for layer in prof])
    assert 0.15 < float(zeros.mean()) < 0.75
    assert all(layer.spatial for layer in prof)


def test_minilm_on_text(minilm: zoo.ZooModel) -> None:
    data = zoo.load_data("text", split="test", limit=16)
    prof = actsparse.profile(minilm.module, minilm.batches(data, batch_size=8, max_length=64),
                             layers=["*intermediate_act_fn", "encoder.layer.?.output.dense:input"])
    gelus = [n for n in prof.names if not n.endswith(":input")]
    assert len(gelus) == 6
    for layer in prof:
        assert layer.units == 1536
        # GELU outputs are almost never exactly zero: their sparsity is soft
        assert layer.density > 0.99
        assert layer.near_zero(1e-2) < 0.3
    mask_tokens = sum(int(b["attention_mask"].sum()) for b in
                      minilm.batches(data, batch_size=8, max_length=64))
    assert prof[gelus[0]].samples == mask_tokens  # padding left out


@pytest.mark.slow
def test_smollm2_on_text(smollm2: zoo.ZooModel) -> None:
    data = zoo.load_data("text", split="test", limit=4)
    prof = actsparse.profile(smollm2.module, smollm2.batches(data, batch_size=4, max_length=32),
                             layers=["*mlp.act_fn", "*mlp.down_proj:input"])
    assert len(prof) == 60  # 30 SiLU outputs and 30 down_proj inputs
    for layer in prof:
        assert layer.units == 1536
        summary = layer.summary()
        assert summary["nan"] == 0 and summary["inf"] == 0
        assert 0.0 <= summary["hoyer"] <= 1.0
    assert all(layer.density > 0.99 for layer in prof)
