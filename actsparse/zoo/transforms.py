"""Image preprocessing as plain tensor functions on ``(N, C, H, W)`` batches."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, as PIL's convert("L")


def to_channels(x: Tensor, channels: int) -> Tensor:
    """Adapt ``(N, C, H, W)`` images to ``channels``: gray is repeated, RGB(A) becomes luma.

    Example:
        >>> to_channels(torch.rand(2, 1, 4, 4), 3).shape
        torch.Size([2, 3, 4, 4])
        >>> to_channels(torch.ones(2, 3, 4, 4), 1).unique().tolist()
        [1.0]
    """
    if x.shape[1] == 4:  # RGBA: drop alpha
        x = x[:, :3]
    if x.shape[1] == channels:
        return x
    if x.shape[1] == 1:
        return x.expand(-1, channels, -1, -1)
    if x.shape[1] == 3 and channels == 1:
        weights = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x * weights).sum(dim=1, keepdim=True)
    raise ValueError(f"cannot turn {x.shape[1]}-channel images into {channels} channels")


def resize_shorter(x: Tensor, size: int) -> Tensor:
    """Resize so the shorter side is ``size``, keeping the aspect ratio (bilinear, antialiased).

    Example:
        >>> resize_shorter(torch.rand(1, 3, 40, 60), 20).shape
        torch.Size([1, 3, 20, 30])
    """
    h, w = x.shape[-2:]
    if min(h, w) == size:
        return x
    scale = size / min(h, w)
    new = (max(size, round(h * scale)), max(size, round(w * scale)))
    return F.interpolate(x, size=new, mode="bilinear", align_corners=False,
                         antialias=True).clamp_(0.0, 1.0)


def resize_cover(x: Tensor, size: Sequence[int]) -> Tensor:
    """The smallest aspect-preserving resize whose height and width both reach ``size``.

    Example:
        >>> resize_cover(torch.rand(1, 3, 40, 60), (30, 30)).shape
        torch.Size([1, 3, 30, 45])
    """
    h, w = x.shape[-2:]
    scale = max(size[0] / h, size[1] / w)
    return resize_shorter(x, max(size[0], size[1], round(min(h, w) * scale)))


def center_crop(x: Tensor, size: int | Sequence[int]) -> Tensor:
    """The central ``size`` (an int or (height, width)) crop.

    Example:
        >>> center_crop(torch.arange(25.0).view(1, 1, 5, 5), 1).item()
        12.0
    """
    th, tw = (size, size) if isinstance(size, int) else size
    h, w = x.shape[-2:]
    top, left = (h - th) // 2, (w - tw) // 2
    return x[..., top:top + th, left:left + tw]


def _starts(length: int, size: int) -> list[int]:
    """Evenly spaced crop starts that cover ``length`` with as few ``size`` windows as possible."""
    n = math.ceil(length / size)
    if n == 1:
        return [(length - size) // 2]
    return [round(i * (length - size) / (n - 1)) for i in range(n)]


def grid_crops(x: Tensor, size: int) -> Tensor:
    """Cover each image with overlapping ``size`` x ``size`` crops at its own resolution.

    Images smaller than ``size`` are first resized so the shorter side is ``size``. The crops
    of image 0 come first, in raster order, then those of image 1, and so on.

    Shape:
        ``(N, C, H, W) -> (N * ceil(H / size) * ceil(W / size), C, size, size)``

    Example:
        >>> grid_crops(torch.rand(2, 3, 427, 640), 224).shape
        torch.Size([12, 3, 224, 224])
        >>> grid_crops(torch.rand(1, 1, 28, 28), 28).shape
        torch.Size([1, 1, 28, 28])
    """
    if min(x.shape[-2:]) < size:
        x = resize_shorter(x, size)
    h, w = x.shape[-2:]
    crops = [x[:, :, top:top + size, left:left + size]
             for top in _starts(h, size) for left in _starts(w, size)]
    return torch.stack(crops, dim=1).flatten(0, 1)  # (N, crops, C, size, size) -> (N*crops, ...)


def center_view(x: Tensor, size: int, crop_fraction: float = 1.0) -> Tensor:
    """One view per image: resize the shorter side to ``size / crop_fraction``, crop the centre.

    ``crop_fraction=0.875`` is the usual ImageNet evaluation (resize 256, crop 224).

    Example:
        >>> center_view(torch.rand(2, 3, 427, 640), 224, 0.875).shape
        torch.Size([2, 3, 224, 224])
    """
    return center_crop(resize_shorter(x, round(size / crop_fraction)), size)


def normalize(x: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """``(x - mean) / std`` per channel.

    Example:
        >>> normalize(torch.ones(1, 1, 2, 2), [0.5], [0.25]).flatten().tolist()
        [2.0, 2.0, 2.0, 2.0]
    """
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def denormalize(x: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """Undo :func:`normalize`.

    Example:
        >>> denormalize(torch.full((1, 1, 1, 1), 2.0), [0.5], [0.25]).item()
        1.0
    """
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return x * s + m
