"""Log-mel spectrograms of a few clips with each conv layer's active units laid over them.

The speech counterpart of :mod:`actsparse.report.overlay`: time runs across, mel bands up, and
a layer's map (the fraction of its channels active at each time-frequency cell) is upsampled to
the spectrogram and drawn in colour over it, transparent where no channel is active.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch.nn.functional as F
from torch import Tensor

from actsparse.measure.examples import Examples
from actsparse.report.figures import label, new_figure, save_png, spread

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_LAYERS = 8  # overlay columns; more conv layers are thinned evenly
FRAME_S = 0.01  # the log-mels' hop (actsparse.zoo.speech_features.log_mel: 10 ms)
ALPHA = 0.8  # the overlay's opacity where a map reaches its column's largest value
COLOURS = "plasma"  # coloured at every level, so it stands apart from the grey spectrogram


def activity_rgba(layer_map: Tensor, top: float) -> np.ndarray:
    """(H, W, 4) colours of a map ``(H, W)``: hue and opacity both grow with ``value / top``,
    so a cell where no channel is active is fully transparent.

    Example:
        >>> import torch
        >>> rgba = activity_rgba(torch.tensor([[0.0, 0.5, 1.0]]), top=1.0)
        >>> rgba.shape, rgba[0, :, 3].round(2).tolist()
        ((1, 3, 4), [0.0, 0.4, 0.8])
    """
    from matplotlib import colormaps

    level = (layer_map.float() / max(top, 1e-6)).clamp(0.0, 1.0).numpy()
    rgba = colormaps[COLOURS](level)  # (H, W, 4)
    rgba[..., 3] = ALPHA * level
    return rgba


def spectrogram_figure(examples: Examples, rows: Sequence[int] | None = None,
                       max_layers: int = MAX_LAYERS, frame_s: float = FRAME_S) -> Figure:
    """A grid: one row per clip (``rows``, default all), its spectrogram then one column per
    conv layer with that layer's map laid over the spectrogram; the clip's caption (its word)
    labels the row.

    Each column shares one colour scale, from 0 to the layer's largest value over all the
    examples (not just ``rows``), so one clip's figure reads like its row of the full grid.

    Example:
        >>> import torch
        >>> maps = {"a": torch.rand(2, 20, 49), "b": torch.rand(2, 10, 25)}
        >>> ex = Examples(torch.rand(2, 1, 40, 98), maps, ["yes", "no"], "spectrogram")
        >>> len(spectrogram_figure(ex).axes), len(spectrogram_figure(ex, rows=[1]).axes)
        (6, 3)
    """
    chosen = list(range(len(examples))) if rows is None else list(rows)
    if not chosen or not all(0 <= r < len(examples) for r in chosen):
        raise ValueError(f"rows must be indices of the {len(examples)} clips, got {chosen}")
    names = spread(examples.names, max_layers)
    cols = 1 + len(names)
    fig = new_figure(2.0 * cols, 1.5 * len(chosen) + 0.6)
    axes = fig.subplots(len(chosen), cols, squeeze=False)
    bands, frames = examples.images.shape[-2:]
    extent = (0.0, frames * frame_s, 0.0, float(bands))  # seconds across, mel bands up
    tops = {n: max(float(examples.maps[n].max()), 1e-6) for n in names}
    for row, clip in enumerate(chosen):
        spectrogram = examples.images[clip, 0].numpy()  # (bands, frames)
        caption = examples.captions[clip] if examples.captions else f"clip {clip}"
        for col in range(cols):
            ax = axes[row, col]
            ax.imshow(spectrogram, cmap="gray", vmin=0.0, vmax=1.0, origin="lower",
                      aspect="auto", extent=extent, interpolation="nearest")
            ax.set_yticks([] if col else [0, bands // 2, bands])
            if row < len(chosen) - 1:
                ax.set_xticklabels([])
            else:
                ax.set_xlabel("time (s)", fontsize="small")
            ax.tick_params(labelsize="x-small")
            if col == 0:
                ax.set_ylabel(f"{label(caption, 16)}\nmel band", fontsize="small")
                if row == 0:
                    ax.set_title("log-mel", fontsize="small")
                continue
            name = names[col - 1]
            cells = F.interpolate(examples.maps[name][clip][None, None].float(),
                                  size=(bands, frames), mode="bilinear",
                                  align_corners=False)[0, 0]  # (bands, frames)
            ax.imshow(activity_rgba(cells, tops[name]), origin="lower", aspect="auto",
                      extent=extent, interpolation="nearest")
            if row == 0:
                ax.set_title(f"{label(name, 18)}\n(max {tops[name]:.2f})", fontsize="small")
    return fig


def write_spectrogram_pngs(examples: Examples, folder: str | Path,
                           max_layers: int = MAX_LAYERS) -> list[Path]:
    """One PNG per clip in ``folder`` (created): its row of :func:`spectrogram_figure`, named
    ``clip-NN-CAPTION.png``; returns the paths.

    Example:
        >>> import tempfile, torch
        >>> ex = Examples(torch.rand(2, 1, 40, 98), {"a": torch.rand(2, 20, 49)}, ["yes", "no"],
        ...               "spectrogram")
        >>> with tempfile.TemporaryDirectory() as d:
        ...     [p.name for p in write_spectrogram_pngs(ex, d)]
        ['clip-00-yes.png', 'clip-01-no.png']
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for clip in range(len(examples)):
        caption = examples.captions[clip] if examples.captions else ""
        slug = re.sub(r"[^A-Za-z0-9_]+", "_", caption).strip("_")
        path = out / (f"clip-{clip:02d}-{slug}.png" if slug else f"clip-{clip:02d}.png")
        save_png(spectrogram_figure(examples, [clip], max_layers), path)
        paths.append(path)
    return paths
