"""The two shapes a data set comes in: images with labels, or text passages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import Tensor


@dataclass
class ImageData:
    """Images and their labels.

    Attributes:
        images: float32 ``(N, C, H, W)``, in ``[0, 1]`` for pixels; or ``(N, D)`` rows from a
            user's file (see :func:`as_images`).
        labels: int64 ``(N,)``; ``-1`` where a label is unknown.
        name: where the data came from (a zoo name or a path).
        classes: names of the label values, where known.

    Example:
        >>> import torch
        >>> data = ImageData(torch.zeros(2, 1, 8, 8), torch.tensor([3, 5]), "toy")
        >>> len(data), data.kind, tuple(data.images.shape)
        (2, 'image', (2, 1, 8, 8))
        >>> data[:1].labels
        tensor([3])
    """

    images: Tensor
    labels: Tensor
    name: str = ""
    classes: list[str] = field(default_factory=list)

    kind: ClassVar[str] = "image"

    def __post_init__(self) -> None:
        if self.images.ndim not in (2, 4):
            raise ValueError(f"{self.name}: images must be (N, C, H, W) or rows (N, D), "
                             f"got shape {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"{self.name}: {self.images.shape[0]} images but labels of shape "
                             f"{tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: slice) -> ImageData:
        return ImageData(self.images[index], self.labels[index], self.name, self.classes)

    def limit(self, n: int | None) -> ImageData:
        """The first ``n`` images (all when ``n`` is None).

        Example:
            >>> import torch
            >>> len(ImageData(torch.zeros(5, 1, 2, 2), torch.zeros(5, dtype=torch.long)).limit(3))
            3
        """
        return self if n is None else self[:n]


@dataclass
class TextData:
    """Text passages, one string each.

    Example:
        >>> data = TextData(["A first passage.", "A second one."], "toy")
        >>> len(data), data.kind, data[1:].texts
        (2, 'text', ['A second one.'])
    """

    texts: list[str]
    name: str = ""

    kind: ClassVar[str] = "text"

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: slice) -> TextData:
        return TextData(self.texts[index], self.name)

    def limit(self, n: int | None) -> TextData:
        """The first ``n`` passages (all when ``n`` is None).

        Example:
            >>> TextData(["a", "b", "c"]).limit(2).texts
            ['a', 'b']
        """
        return self if n is None else self[:n]


Data = ImageData | TextData


def as_images(x: Tensor, name: str = "") -> Tensor:
    """An image-like tensor as float32 ``(N, C, H, W)``, or rows ``(N, D)`` kept as rows.

    Accepts ``(N, H, W)``, ``(N, C, H, W)``, channels-last ``(N, H, W, C)`` with C in 1, 3, 4,
    and ``(N, D)`` rows, which stay ``(N, D)``: the model decides their layout (a zoo image
    model takes rows of ``C * H * W`` values, see :meth:`~actsparse.zoo.ZooModel.views`; a
    user's module gets them as they are). Only uint8-like data is rescaled from 0-255 to
    ``[0, 1]``: integer tensors, and float tensors holding only whole numbers in 0-255. Other
    float data (already in ``[0, 1]``, normalised, audio frames) is left as it is.

    Example:
        >>> import torch
        >>> as_images(torch.full((2, 28, 28), 255, dtype=torch.uint8)).shape
        torch.Size([2, 1, 28, 28])
        >>> as_images(torch.zeros(3, 32, 32, 3)).shape
        torch.Size([3, 3, 32, 32])
        >>> as_images(torch.tensor([[-0.4, 2.8]])).tolist()  # normalised floats stay
        [[-0.4000000059604645, 2.799999952316284]]
        >>> as_images(torch.tensor([[0.0, 255.0]])).tolist()  # 0-255 pixels as floats
        [[0.0, 1.0]]
    """
    where = f"{name}: " if name else ""
    if x.ndim == 3:
        x = x.unsqueeze(1)
    elif x.ndim == 4:
        if x.shape[1] not in (1, 3, 4) and x.shape[-1] in (1, 3, 4):
            x = x.permute(0, 3, 1, 2)
    elif x.ndim != 2:
        raise ValueError(f"{where}expected images (N, H, W) or (N, C, H, W), or rows (N, D), "
                         f"got shape {tuple(x.shape)}")
    if x.dtype == torch.bool:
        return x.float().contiguous()
    if not x.is_floating_point():
        if x.numel() and (int(x.min()) < 0 or int(x.max()) > 255):
            raise ValueError(f"{where}integer data is read as 0-255 pixels, but it holds values "
                             f"in [{int(x.min())}, {int(x.max())}]; save it as floats")
        return (x.float() / 255.0).contiguous()
    x = x.float()
    if _uint8_like(x):
        x = x / 255.0
    return x.contiguous()


def _uint8_like(x: Tensor) -> bool:
    """Whole numbers in 0-255 with some above 1: pixel values stored as floats."""
    if x.numel() == 0 or not bool(torch.isfinite(x).all()):
        return False
    top, bottom = float(x.max()), float(x.min())
    return 1.0 < top <= 255.0 and bottom >= 0.0 and bool((x == x.round()).all())
