"""Images in display form, for plots and heatmaps over real inputs."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from actsparse.zoo.data import ImageData
from actsparse.zoo.zoo_model import Crops, ZooModel


def to_display(images: Tensor) -> list[np.ndarray]:
    """``(N, C, H, W)`` in ``[0, 1]`` as a list of ``(H, W)`` (gray) or ``(H, W, 3)`` arrays.

    The arrays go straight to ``matplotlib.pyplot.imshow`` (gray ones with ``cmap="gray"``).

    Example:
        >>> import torch
        >>> [a.shape for a in to_display(torch.rand(2, 3, 4, 5))]
        [(4, 5, 3), (4, 5, 3)]
        >>> to_display(torch.rand(1, 1, 4, 5))[0].shape
        (4, 5)
    """
    x = images.detach().float().clamp(0.0, 1.0).cpu()
    if x.shape[1] == 1:
        return [a for a in x[:, 0].numpy()]
    return [a for a in x[:, :3].permute(0, 2, 3, 1).numpy()]


def example_images(data: ImageData, n: int = 4, model: ZooModel | None = None,
                   crops: Crops = "grid") -> list[np.ndarray]:
    """The first ``n`` images of ``data`` for display; with ``model``, the crops it is fed.

    With a model, the i-th array is exactly the i-th input of ``model.batches(data, crops=...)``
    before normalisation, so a conv layer's activation map can be drawn over it.

    Example:
        >>> import torch
        >>> from actsparse.zoo.zoo_model import ImageInput
        >>> data = ImageData(torch.rand(3, 1, 8, 8), torch.zeros(3, dtype=torch.long))
        >>> [a.shape for a in example_images(data, n=2)]
        [(8, 8), (8, 8)]
        >>> zm = ZooModel(torch.nn.Identity(), "image", image_input=ImageInput(16, 3, (0.,), (1.,)))
        >>> example_images(data, n=1, model=zm)[0].shape
        (16, 16, 3)
    """
    images = data.images[:n]
    if model is not None:
        images = model.views(images, crops)[:n]
    return to_display(images)
