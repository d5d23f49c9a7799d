"""One entry point for data: a zoo data set name, or a user's file or folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from actsparse.zoo import images, text
from actsparse.zoo.data import Data
from actsparse.zoo.errors import UnknownNameError
from actsparse.zoo.files import read_path

DATASETS: dict[str, Callable[[str, int | None], Data]] = {
    "mnist": images.mnist,
    "fashion-mnist": images.fashion_mnist,
    "digits": images.digits,
    "photos": images.photos,
    "text": text.text,
}


def available_datasets() -> list[str]:
    """The zoo's data set names.

    Example:
        >>> available_datasets()
        ['mnist', 'fashion-mnist', 'digits', 'photos', 'text']
    """
    return list(DATASETS)


def load_data(name_or_path: str | Path, split: str = "test", limit: int | None = None) -> Data:
    """Load a data set by zoo name, or a user's ``.pt``/``.npy``/``.npz``/``.txt``/image folder.

    Image data sets come as :class:`~actsparse.zoo.data.ImageData` (float32 ``(N, C, H, W)``
    in ``[0, 1]``, int64 labels, -1 where unknown), text as
    :class:`~actsparse.zoo.data.TextData`. ``split`` is 'train' or 'test' ('val' too for
    mnist; photos has only 'test'); it is ignored for a user's files, which are used whole.

    Example:
        >>> data = load_data("digits", split="train", limit=10)
        >>> type(data).__name__, tuple(data.images.shape)
        ('ImageData', (10, 1, 8, 8))
        >>> load_data("cifar")
        Traceback (most recent call last):
        ...
        actsparse.zoo.errors.UnknownNameError: unknown data set 'cifar'; known data sets: mnist,
        fashion-mnist, digits, photos, text (or pass a path to a file or folder)
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be None or >= 0, got {limit}")
    name = str(name_or_path)
    if name in DATASETS and not isinstance(name_or_path, Path):
        return DATASETS[name](split, limit)
    path = Path(name).expanduser()
    if path.exists() or isinstance(name_or_path, Path) or path.suffix or "/" in name:
        return read_path(path, limit)
    raise UnknownNameError("data set", name, available_datasets())
