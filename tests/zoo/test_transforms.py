"""Image preprocessing and the IDX reader."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from actsparse.zoo.data import as_images
from actsparse.zoo.idx import read_idx
from actsparse.zoo.transforms import (
    center_view,
    denormalize,
    grid_crops,
    normalize,
    resize_cover,
    to_channels,
)


@pytest.mark.parametrize("h, w, size, n", [(427, 640, 224, 6), (28, 28, 28, 1), (8, 8, 28, 1),
                                           (10, 30, 10, 3), (224, 225, 224, 2)])
def test_grid_crops_count_and_cover(h: int, w: int, size: int, n: int) -> None:
    x = torch.rand(2, 3, h, w)
    crops = grid_crops(x, size)
    assert crops.shape == (2 * n, 3, size, size)
    if (h, w) == (10, 30):  # native resolution: the crops tile the image exactly
        torch.testing.assert_close(torch.cat(list(crops[:3]), dim=-1), x[0])


def test_grid_crops_order_is_image_major() -> None:
    x = torch.stack([torch.zeros(1, 4, 8), torch.ones(1, 4, 8)])
    assert grid_crops(x, 4)[:, 0, 0, 0].tolist() == [0.0, 0.0, 1.0, 1.0]


def test_center_view_and_cover() -> None:
    assert center_view(torch.rand(1, 3, 100, 50), 32, 0.875).shape == (1, 3, 32, 32)
    assert resize_cover(torch.rand(1, 1, 10, 40), (20, 20)).shape == (1, 1, 20, 80)


def test_channels() -> None:
    gray = torch.rand(2, 1, 5, 5)
    torch.testing.assert_close(to_channels(gray, 3)[:, 2], gray[:, 0])
    rgba = torch.rand(2, 4, 5, 5)
    assert to_channels(rgba, 3).shape == (2, 3, 5, 5)
    red = torch.zeros(1, 3, 2, 2)
    red[:, 0] = 1.0
    torch.testing.assert_close(to_channels(red, 1), torch.full((1, 1, 2, 2), 0.299))
    with pytest.raises(ValueError, match="cannot turn"):
        to_channels(torch.rand(1, 2, 3, 3), 3)


def test_normalize_roundtrip() -> None:
    x = torch.rand(3, 3, 4, 4)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    torch.testing.assert_close(denormalize(normalize(x, mean, std), mean, std), x)


@pytest.mark.parametrize("shape, expected", [((2, 9), (2, 9)), ((2, 5, 6), (2, 1, 5, 6)),
                                             ((2, 5, 6, 3), (2, 3, 5, 6)),
                                             ((2, 3, 5, 6), (2, 3, 5, 6))])
def test_as_images_layouts(shape: tuple[int, ...], expected: tuple[int, ...]) -> None:
    assert as_images(torch.rand(shape)).shape == expected


def test_as_images_keeps_rows_and_rescales_only_uint8_like_data() -> None:
    frames = torch.randn(4, 1024) * 3  # audio frames, not images: max > 1, not whole numbers
    assert torch.equal(as_images(frames), frames)
    pixels = torch.randint(0, 256, (4, 784)).float()  # 0-255 pixels saved as floats
    assert torch.equal(as_images(pixels), pixels / 255)
    assert torch.equal(as_images(pixels.to(torch.uint8)), pixels / 255)
    with pytest.raises(ValueError, match=r"integer data .* values in \[-3, 300\]"):
        as_images(torch.tensor([[-3, 300]]))


def test_read_idx_gz_and_limit(tmp_path: Path) -> None:
    x = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 0x08, 3]) + b"".join(d.to_bytes(4, "big") for d in x.shape)
    with gzip.open(tmp_path / "x-idx3-ubyte.gz", "wb") as f:
        f.write(header + x.tobytes())
    np.testing.assert_array_equal(read_idx(tmp_path / "x-idx3-ubyte.gz"), x)
    np.testing.assert_array_equal(read_idx(tmp_path / "x-idx3-ubyte.gz", limit=1), x[:1])
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
