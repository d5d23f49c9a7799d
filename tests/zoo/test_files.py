"""A user's own data files and folders round-trip into ImageData / TextData."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from actsparse import zoo


def test_pt_tensor(tmp_path: Path) -> None:
    x = torch.rand(5, 3, 16, 16)
    torch.save(x, tmp_path / "x.pt")
    data = zoo.load_data(tmp_path / "x.pt")
    torch.testing.assert_close(data.images, x)
    assert data.labels.tolist() == [-1] * 5


def test_pt_pair_and_dict(tmp_path: Path) -> None:
    x, y = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8), torch.tensor([1, 2, 3, 4])
    torch.save((x, y), tmp_path / "pair.pth")
    torch.save({"images": x, "labels": y}, tmp_path / "dict.pt")
    for name in ("pair.pth", "dict.pt"):
        data = zoo.load_data(str(tmp_path / name), limit=3)
        torch.testing.assert_close(data.images, x[:3].float().unsqueeze(1) / 255)
        assert data.labels.tolist() == [1, 2, 3]


def test_npy_channels_last(tmp_path: Path) -> None:
    x = np.random.default_rng(0).integers(0, 256, (3, 10, 12, 3), dtype=np.uint8)
    np.save(tmp_path / "x.npy", x)
    data = zoo.load_data(tmp_path / "x.npy")
    assert data.images.shape == (3, 3, 10, 12)
    torch.testing.assert_close(data.images, torch.from_numpy(x).permute(0, 3, 1, 2) / 255.0)


def test_npz_with_labels(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 784), np.float32), y=np.array([3, 4]))
    data = zoo.load_data(tmp_path / "d.npz")
    # rows stay rows: a zoo image model reshapes rows of its C*H*W, a user's module takes them
    assert data.images.shape == (2, 784) and data.labels.tolist() == [3, 4]


def test_image_folder_with_classes_and_sizes(tmp_path: Path) -> None:
    for label, size in (("cat", (40, 30)), ("dog", (64, 48))):
        (tmp_path / label).mkdir()
        Image.new("RGB", size, (255, 0, 0)).save(tmp_path / label / "a.png")
        Image.new("RGB", size, (0, 0, 255)).save(tmp_path / label / "b.jpg")
    data = zoo.load_data(tmp_path)
    assert data.classes == ["cat", "dog"] and data.labels.tolist() == [0, 0, 1, 1]
    assert data.images.shape == (4, 3, 30, 40)  # the smallest height and width
    assert float(data.images[0, 0].mean()) > 0.95 and float(data.images[0, 2].mean()) < 0.05


def test_gray_image_folder(tmp_path: Path) -> None:
    for i in range(3):
        Image.new("L", (8, 8), 128).save(tmp_path / f"{i}.png")
    data = zoo.load_data(tmp_path, limit=2)
    assert data.images.shape == (2, 1, 8, 8) and data.labels.tolist() == [-1, -1]
    torch.testing.assert_close(data.images, torch.full((2, 1, 8, 8), 128 / 255))


def test_txt_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("One passage\nover two lines.\n\n\nTwo.\n")
    assert zoo.load_data(tmp_path / "a.txt").texts == ["One passage over two lines.", "Two."]
    (tmp_path / "b.txt").write_text("line one\nline two\nline three\n")
    assert zoo.load_data(tmp_path / "b.txt", limit=2).texts == ["line one", "line two"]


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        zoo.load_data(tmp_path / "nope.pt")
    with pytest.raises(FileNotFoundError):
        zoo.load_data("some/missing/folder")


@pytest.mark.parametrize("content, match", [
    ("just a string", "expected a tensor"),
    ({"weights": torch.zeros(2)}, "no images under any of the keys"),
    ((torch.zeros(3, 8, 8), torch.zeros(2)), "3 images but 2 labels"),
    (torch.zeros(4), "expected images"),
])
def test_bad_tensor_files(tmp_path: Path, content: object, match: str) -> None:
    torch.save(content, tmp_path / "bad.pt")
    with pytest.raises(zoo.DataFormatError, match=match):
        zoo.load_data(tmp_path / "bad.pt")


def test_unknown_suffix_and_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("1,2\n")
    with pytest.raises(zoo.DataFormatError, match="unknown data file type"):
        zoo.load_data(tmp_path / "x.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(zoo.DataFormatError, match="no image files"):
        zoo.load_data(tmp_path / "empty")
