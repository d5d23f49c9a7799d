"""The named data sets: shapes, ranges, labels, splits and limits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from actsparse import zoo
from actsparse.zoo import images
from actsparse.zoo.assets import FASHION_MNIST

needs_fashion = pytest.mark.skipif(not Path(FASHION_MNIST.path).is_dir(),
                                   reason="Debian package dataset-fashion-mnist not installed")


def check_images(data: zoo.ImageData, shape: tuple[int, int, int], n: int,
                 classes: int | None) -> None:
    assert isinstance(data, zoo.ImageData)
    assert data.images.shape == (n, *shape)
    assert data.images.dtype == torch.float32 and data.labels.dtype == torch.int64
    assert float(data.images.min()) >= 0.0 and float(data.images.max()) <= 1.0
    assert float(data.images.max()) > 0.5  # real pictures, not blank
    if classes is None:
        assert (data.labels == -1).all()
    else:
        assert int(data.labels.min()) >= 0 and int(data.labels.max()) < classes


@pytest.mark.parametrize("split, limit, size", [("train", 1000, 1000), ("val", None, 10_000),
                                                ("test", None, 10_000)])
def test_mnist_splits(split: str, limit: int | None, size: int) -> None:
    data = zoo.load_data("mnist", split=split, limit=limit)
    check_images(data, (1, 28, 28), size, 10)
    assert set(data.labels[:500].tolist()) == set(range(10))


def test_mnist_train_has_50k() -> None:
    assert len(images._mnist_arrays()["train"][1]) == 50_000


def test_mnist_limit_and_first_labels() -> None:
    data = zoo.load_data("mnist", limit=5)
    check_images(data, (1, 28, 28), 5, 10)
    assert data.labels.tolist() == [7, 2, 1, 0, 4]  # the well-known first MNIST test digits


@needs_fashion
@pytest.mark.parametrize("split, limit, n", [("test", None, 10_000), ("train", 300, 300)])
def test_fashion_mnist(split: str, limit: int | None, n: int) -> None:
    data = zoo.load_data("fashion-mnist", split=split, limit=limit)
    check_images(data, (1, 28, 28), n, 10)
    assert len(data.classes) == 10 and data.classes[9] == "Ankle boot"


def test_digits_splits_are_disjoint_and_complete() -> None:
    train, test = zoo.load_data("digits", "train"), zoo.load_data("digits", "test")
    check_images(train, (1, 8, 8), 1437, 10)
    check_images(test, (1, 8, 8), 360, 10)
    train_rows = {tuple(x.flatten().tolist()) for x in train.images}
    repeated = sum(tuple(x.flatten().tolist()) in train_rows for x in test.images)
    assert repeated < 10  # only the few digits that occur twice in the data


def test_photos() -> None:
    data = zoo.load_data("photos")
    check_images(data, (3, 427, 640), 7, None)
    assert len(zoo.load_data("photos", limit=1)) == 1
    torch.testing.assert_close(zoo.load_data("photos", limit=3).images, data.images[:3])


def test_text_splits() -> None:
    train, test = zoo.load_data("text", "train"), zoo.load_data("text", "test")
    assert isinstance(test, zoo.TextData) and all(isinstance(t, str) for t in test.texts)
    assert 50 < len(test) < len(train) / 5
    assert not set(train.texts) & set(test.texts)
    assert all(len(t.split()) >= 8 and "\n" not in t for t in train.texts)
    assert sum(map(len, train.texts)) > 100_000  # ~200 KB of prose
    assert zoo.load_data("text", limit=3).texts == test.texts[:3]  # deterministic


@pytest.mark.parametrize("name, split", [("digits", "val"), ("photos", "train"), ("text", "val")])
def test_unknown_split_names_the_valid_ones(name: str, split: str) -> None:
    with pytest.raises(ValueError, match="choose one of"):
        zoo.load_data(name, split=split)


def test_unknown_data_set_lists_names() -> None:
    with pytest.raises(zoo.UnknownNameError) as info:
        zoo.load_data("cifar10")
    for name in zoo.available_datasets():
        assert name in str(info.value)


def test_available_datasets() -> None:
    assert zoo.available_datasets() == ["mnist", "fashion-mnist", "digits", "photos", "text"]
