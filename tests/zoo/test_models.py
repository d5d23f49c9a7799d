"""The packaged pretrained models, loaded and fed through the zoo path."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actsparse import zoo
from actsparse.zoo.assets import MOBILENET
from actsparse.zoo.mobilenet import MobileNetV2

PALACE = 698  # ImageNet class of the temple in sklearn's china.jpg
# ImageNet classes of scikit-image's chelsea, coffee, rocket and motorcycle photos
EGYPTIAN_CAT, ESPRESSO, SPACE_SHUTTLE, MOPED = 285, 967, 812, 665


@pytest.fixture(scope="module")
def mnist_cnn() -> zoo.ZooModel:
    return zoo.load_model("mnist-cnn")


@pytest.fixture(scope="module")
def mobilenet() -> zoo.ZooModel:
    return zoo.load_model("mobilenetv2")


def predict(model: zoo.ZooModel, data: zoo.Data, **kwargs: Any) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model.module(b) for b in model.batches(data, **kwargs)])


def test_available_models() -> None:
    assert zoo.available_models() == ["mnist-cnn", "mobilenetv2", "minilm", "smollm2", "silero-vad"]


def test_mnist_cnn_accuracy(mnist_cnn: zoo.ZooModel) -> None:
    data = zoo.load_data("mnist", split="test", limit=2000)
    logits = predict(mnist_cnn, data, batch_size=500)
    accuracy = (logits.argmax(1) == data.labels).float().mean().item()
    assert accuracy >= 0.985
    assert mnist_cnn.kind == "image" and not mnist_cnn.module.training


def test_mnist_cnn_batches_are_normalised(mnist_cnn: zoo.ZooModel) -> None:
    data = zoo.load_data("mnist", limit=8)
    (batch,) = mnist_cnn.batches(data, batch_size=8)
    torch.testing.assert_close(batch, (data.images - 0.1307) / 0.3081)


@pytest.mark.parametrize("name", ["digits", "photos"])
def test_mnist_cnn_takes_other_images(mnist_cnn: zoo.ZooModel, name: str) -> None:
    data = zoo.load_data(name, limit=4)
    batches = list(mnist_cnn.batches(data, batch_size=64, limit=100))
    assert all(b.shape[1:] == (1, 28, 28) for b in batches)
    assert sum(b.shape[0] for b in batches) == min(100, 4 if name == "digits" else 100)


def test_mobilenet_loads_strictly() -> None:
    state = torch.load(MOBILENET.file("weights/mobilenet_v2-b0353104.pth"), weights_only=True)
    model = MobileNetV2()
    assert set(model.state_dict()) == set(state)
    model.load_state_dict(state, strict=True)


def test_mobilenet_on_photos(mobilenet: zoo.ZooModel) -> None:
    data = zoo.load_data("photos")
    center = predict(mobilenet, data, crops="center")
    assert center.shape == (7, 1000) and torch.isfinite(center).all()
    assert center[0].argmax().item() == PALACE
    assert center[3:].argmax(1).tolist() == [EGYPTIAN_CAT, ESPRESSO, SPACE_SHUTTLE, MOPED]
    grid = predict(mobilenet, data, batch_size=5)
    assert grid.shape == (42, 1000)  # 2 x 3 crops of 224 from each 427 x 640 photo
    assert len(set(grid.argmax(1).tolist())) >= 4
    assert F.softmax(grid, 1).max(1).values.mean() > 0.2  # confident on real photos


def test_mobilenet_relu6_modules(mobilenet: zoo.ZooModel) -> None:
    relus = [m for m in mobilenet.module.modules() if isinstance(m, nn.ReLU6)]
    assert len(relus) == 35 and not any(m.inplace for m in relus)


def test_batch_limits_count_crops(mobilenet: zoo.ZooModel) -> None:
    data = zoo.load_data("photos")
    sizes = [b.shape[0] for b in mobilenet.batches(data, batch_size=4, limit=7)]
    assert sizes == [4, 3]


def test_example_images_match_model_inputs(mobilenet: zoo.ZooModel) -> None:
    data = zoo.load_data("photos")
    shown = zoo.example_images(data, n=3, model=mobilenet)
    first = next(mobilenet.batches(data, batch_size=3))
    assert [a.shape for a in shown] == [(224, 224, 3)] * 3
    restored = torch.from_numpy(shown[1]).permute(2, 0, 1)
    torch.testing.assert_close(mobilenet.normalize(restored[None])[0], first[1])
    assert [a.shape for a in zoo.example_images(zoo.load_data("digits"), n=2)] == [(8, 8)] * 2


def test_image_model_rejects_text(mnist_cnn: zoo.ZooModel) -> None:
    with pytest.raises(TypeError, match="takes image data"):
        next(mnist_cnn.batches(zoo.load_data("text", limit=2)))


def test_minilm_embeddings(minilm: zoo.ZooModel) -> None:
    data = zoo.TextData(["A man is eating food.", "A man is eating a meal.",
                         "The stock market fell sharply today."])
    (batch,) = minilm.batches(data, batch_size=8)
    assert set(batch) >= {"input_ids", "attention_mask"}
    with torch.no_grad():
        hidden = minilm.module(**batch).last_hidden_state  # (B, T, 384)
    mask = batch["attention_mask"].unsqueeze(-1).float()
    embedding = F.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)  # (B, 384)
    assert embedding.shape == (3, 384)
    similar, unrelated = embedding[0] @ embedding[1], embedding[0] @ embedding[2]
    assert similar > 0.7 and similar > unrelated + 0.3


def test_text_batches_truncate(minilm: zoo.ZooModel) -> None:
    data = zoo.load_data("text", limit=10)
    batches = list(minilm.batches(data, batch_size=4, max_length=16))
    assert [b["input_ids"].shape[0] for b in batches] == [4, 4, 2]
    assert all(b["input_ids"].shape[1] <= 16 for b in batches)
    with pytest.raises(TypeError, match="takes text data"):
        next(minilm.batches(zoo.load_data("digits", limit=1)))


@pytest.mark.slow
def test_smollm2_logits(smollm2: zoo.ZooModel) -> None:
    assert smollm2.kind == "text" and smollm2.tokenizer.pad_token is not None
    data = zoo.TextData(["The capital of France is", "Hello"])
    (batch,) = smollm2.batches(data)
    with torch.no_grad():
        logits = smollm2.module(**batch).logits  # (B, T, vocab)
    assert logits.shape[:2] == batch["input_ids"].shape and logits.shape[2] == 49152
    assert torch.isfinite(logits).all()
    last = int(batch["attention_mask"][0].sum()) - 1
    next_token = smollm2.tokenizer.decode(logits[0, last].argmax().item())
    assert next_token.strip() == "Paris"
