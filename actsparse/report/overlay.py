"""Real input images with each conv layer's per-image firing map laid over them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch.nn.functional as F

from actsparse.measure.examples import Examples
from actsparse.report.figures import label, new_figure, spread

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_LAYERS = 8  # overlay columns; more conv layers are thinned evenly
ALPHA = 0.6


def overlay_figure(examples: Examples, max_layers: int = MAX_LAYERS) -> Figure:
    """A grid: one row per image, the image itself then one column per conv layer, where the
    layer's map (fraction of channels active) is upsampled to the image and drawn over it.

    Each column shares one colour scale, from 0 to the layer's largest value on these images.

    Example:
        >>> import torch
        >>> maps = {"a": torch.rand(2, 8, 8), "b": torch.rand(2, 4, 4)}
        >>> ex = Examples(torch.rand(2, 3, 16, 16), maps)
        >>> len(overlay_figure(ex).axes)
        6
    """
    names = spread(examples.names, max_layers)
    rows, cols = len(examples), 1 + len(names)
    fig = new_figure(1.7 * cols, 1.7 * rows + 0.3)
    axes = fig.subplots(rows, cols, squeeze=False)
    height, width = examples.images.shape[-2:]
    grey = examples.images.shape[1] == 1
    upsampled = {
        n: F.interpolate(examples.maps[n][:, None].float(), size=(height, width),
                         mode="bilinear", align_corners=False)[:, 0].clamp(0.0, 1.0)
        for n in names
    }
    for row in range(rows):
        picture = examples.images[row].permute(1, 2, 0).numpy()
        for col in range(cols):
            ax = axes[row, col]
            ax.imshow(picture[..., 0] if grey else picture, cmap="gray" if grey else None,
                      vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(f"image {row}", fontsize="small")
                if row == 0:
                    ax.set_title("input", fontsize="small")
                continue
            name = names[col - 1]
            top = max(float(examples.maps[name].max()), 1e-6)
            ax.imshow(upsampled[name][row].numpy(), cmap="inferno", alpha=ALPHA, vmin=0.0,
                      vmax=top, interpolation="bilinear")
            if row == 0:
                ax.set_title(f"{label(name, 18)}\n(max {top:.2f})", fontsize="small")
    return fig
