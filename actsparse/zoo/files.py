"""A user's own data: a tensor file, a NumPy file, a folder of images, or a text file.

User files have no held-out split: the whole file is the data set.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from actsparse.zoo.data import Data, ImageData, as_images
from actsparse.zoo.errors import DataFormatError
from actsparse.zoo.text import read_text_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
TENSOR_SUFFIXES = (".pt", ".pth")
NUMPY_SUFFIXES = (".npy", ".npz")
DATA_SUFFIXES = TENSOR_SUFFIXES + NUMPY_SUFFIXES + (".txt",)
_IMAGE_KEYS = ("images", "x", "data", "inputs", "arr_0")
_LABEL_KEYS = ("labels", "y", "targets", "target", "arr_1")


def _pick(content: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    return next((content[k] for k in keys if k in content), None)


def _from_content(content: Any, where: str) -> ImageData:
    """(x), (x, y) or {'images'|'x': ..., 'labels'|'y': ...} as ImageData."""
    if isinstance(content, Mapping):
        x, y = _pick(content, _IMAGE_KEYS), _pick(content, _LABEL_KEYS)
        if x is None:
            raise DataFormatError(f"{where}: no images under any of the keys "
                                  f"{', '.join(_IMAGE_KEYS)}; found {', '.join(map(str, content))}")
    elif isinstance(content, tuple | list) and len(content) == 2:
        x, y = content
    else:
        x, y = content, None
    if not isinstance(x, Tensor | np.ndarray):
        raise DataFormatError(f"{where}: expected a tensor, an array or an (images, labels) "
                              f"pair, got {type(content).__name__}")
    try:
        images = as_images(torch.as_tensor(x), where)
    except ValueError as err:
        raise DataFormatError(str(err)) from None
    if y is None:
        labels = torch.full((images.shape[0],), -1, dtype=torch.int64)
    else:
        labels = torch.as_tensor(y).to(torch.int64).reshape(-1)
        if labels.shape[0] != images.shape[0]:
            raise DataFormatError(f"{where}: {images.shape[0]} images but {labels.shape[0]} labels")
    return ImageData(images, labels, where)


def read_tensor_file(path: str | Path, limit: int | None = None) -> ImageData:
    """Images from a ``.pt``/``.pth`` file (loaded with ``weights_only=True``, so it is safe).

    The file holds a tensor, an ``(images, labels)`` pair, or a dict with ``images``/``x`` and
    ``labels``/``y``. See :func:`~actsparse.zoo.data.as_images` for the accepted layouts.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "x.pt")
        >>> torch.save((torch.rand(4, 1, 8, 8), torch.arange(4)), path)
        >>> data = read_tensor_file(path)
        >>> tuple(data.images.shape), data.labels.tolist()
        ((4, 1, 8, 8), [0, 1, 2, 3])
    """
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling errors come in many types
        raise DataFormatError(f"{path}: cannot read it as tensors with torch.load "
                              f"(weights_only=True): {err}") from err
    return _from_content(content, str(path)).limit(limit)


def read_numpy_file(path: str | Path, limit: int | None = None) -> ImageData:
    """Images from a ``.npy`` array or an ``.npz`` archive (keys as for tensor files).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "x.npz")
        >>> np.savez(path, x=np.zeros((3, 28, 28), np.uint8), y=np.array([1, 2, 3]))
        >>> data = read_numpy_file(path)
        >>> tuple(data.images.shape), data.labels.tolist()
        ((3, 1, 28, 28), [1, 2, 3])
    """
    content = np.load(path, allow_pickle=False)
    if isinstance(content, np.lib.npyio.NpzFile):
        with content:
            content = {key: content[key] for key in content.files}
    return _from_content(content, str(path)).limit(limit)


def _open_image(path: Path, gray: bool) -> Tensor:
    from PIL import Image

    with Image.open(path) as image:
        array = np.asarray(image.convert("L" if gray else "RGB"))
    x = torch.from_numpy(array.copy()).float().div_(255.0)
    return x.unsqueeze(0) if gray else x.permute(2, 0, 1)


def _common_size(images: list[Tensor]) -> list[Tensor]:
    """Resize (shorter side) and centre-crop every image to the smallest height and width."""
    from actsparse.zoo.transforms import center_crop, resize_cover

    h = min(int(x.shape[1]) for x in images)
    w = min(int(x.shape[2]) for x in images)
    out = []
    for x in images:
        if tuple(x.shape[1:]) != (h, w):
            x = center_crop(resize_cover(x.unsqueeze(0), (h, w)), (h, w)).squeeze(0)
        out.append(x)
    return out


def read_image_folder(path: str | Path, limit: int | None = None) -> ImageData:
    """A folder of images; with class subfolders (``folder/cat/1.png``), labels follow them.

    Images are RGB unless every one is grayscale; images of different sizes are resized and
    centre-cropped to the smallest height and width among them. Files are read in sorted order.

    Example:
        >>> import tempfile, os
        >>> from PIL import Image
        >>> root = tempfile.mkdtemp()
        >>> for label in ("a", "b"):
        ...     os.makedirs(os.path.join(root, label))
        ...     Image.new("RGB", (12, 10)).save(os.path.join(root, label, "0.png"))
        >>> data = read_image_folder(root)
        >>> tuple(data.images.shape), data.labels.tolist(), data.classes
        ((2, 3, 10, 12), [0, 1], ['a', 'b'])
    """
    from PIL import Image

    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not files:
        raise DataFormatError(f"{root}: no image files ({', '.join(IMAGE_SUFFIXES)}) in it")
    classes = sorted({p.parent.relative_to(root).as_posix() for p in files} - {"."})
    gray = True
    for p in files:
        with Image.open(p) as image:
            gray = gray and image.mode in ("1", "L", "I;16", "I", "F")
    images = _common_size([_open_image(p, gray) for p in files])
    index = {name: i for i, name in enumerate(classes)}
    labels = [index.get(p.parent.relative_to(root).as_posix(), -1) for p in files]
    return ImageData(torch.stack(images), torch.tensor(labels, dtype=torch.int64), str(root),
                     classes)


def read_path(path: str | Path, limit: int | None = None) -> Data:
    """Read a user's data file or folder by its suffix.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
        >>> np.save(path, np.ones((2, 8, 8), np.float32))
        >>> read_path(path).images.shape
        torch.Size([2, 1, 8, 8])
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data path {path} does not exist")
    if path.is_dir():
        return read_image_folder(path, limit)
    suffix = path.suffix.lower()
    if suffix in TENSOR_SUFFIXES:
        return read_tensor_file(path, limit)
    if suffix in NUMPY_SUFFIXES:
        return read_numpy_file(path, limit)
    if suffix == ".txt":
        return read_text_file(path, limit)
    if suffix in IMAGE_SUFFIXES:
        return read_image_files([path])
    raise DataFormatError(f"{path}: unknown data file type {suffix!r}; use one of "
                          f"{', '.join(DATA_SUFFIXES + IMAGE_SUFFIXES)} or a folder of images")


def read_image_files(paths: list[Path]) -> ImageData:
    """Single image files as one data set (RGB).

    Example:
        >>> import tempfile, os
        >>> from PIL import Image
        >>> path = os.path.join(tempfile.mkdtemp(), "one.png")
        >>> Image.new("RGB", (5, 4)).save(path)
        >>> read_image_files([Path(path)]).images.shape
        torch.Size([1, 3, 4, 5])
    """
    images = _common_size([_open_image(p, gray=False) for p in paths])
    return ImageData(torch.stack(images), torch.full((len(paths),), -1, dtype=torch.int64),
                     str(paths[0]))
