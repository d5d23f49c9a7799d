"""The spectrogram overlay: each conv layer's active units drawn over a clip's log-mels."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import actsparse
from actsparse.measure.examples import Examples, example_maps
from actsparse.report.profile_page import render
from actsparse.report.spectrogram_overlay import (
    activity_rgba,
    spectrogram_figure,
    write_spectrogram_pngs,
)

BANDS, FRAMES = 40, 98


def spectrograms(k: int) -> torch.Tensor:
    """k log-mel-like inputs (k, 1, 40, 98): noise with a loud band in the middle of time."""
    torch.manual_seed(0)
    x = torch.randn(k, 1, BANDS, FRAMES) * 0.3
    x[..., 5:20, 40:60] += 2.0
    return x


def kws_net(dead_bias: float = -1e3) -> nn.Sequential:
    """Two conv layers on (B, 1, 40, 98); the second's bias makes every unit of it inactive."""
    torch.manual_seed(0)
    net = nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(1, 8, 3, stride=2, padding=1), act1=nn.ReLU(),  # (B, 8, 20, 49)
        conv2=nn.Conv2d(8, 8, 3, padding=1), act2=nn.ReLU()))  # (B, 8, 20, 49): all zero
    with torch.no_grad():
        net.conv2.bias.fill_(dead_bias)
    return net


def coloured(rgb: np.ndarray) -> float:
    """The fraction of pixels that are not grey (the spectrogram and text are grey)."""
    spread = rgb[..., :3].max(axis=-1) - rgb[..., :3].min(axis=-1)
    return float((spread > 0.05).mean())


def panels(fig: object) -> list[np.ndarray]:
    """The figure drawn by Agg, cut into its axes' pixels (RGB in [0, 1])."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # type: ignore[arg-type]
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())[..., :3] / 255.0
    height = pixels.shape[0]
    cut = []
    for ax in fig.axes:  # type: ignore[attr-defined]
        box = ax.get_window_extent()
        top, bottom = int(height - box.y1) + 2, int(height - box.y0) - 2  # inside the frame
        cut.append(pixels[top:bottom, int(box.x0) + 2:int(box.x1) - 2])
    return cut


def test_an_all_zero_layer_leaves_the_spectrogram_bare() -> None:
    ex = example_maps(kws_net(), spectrograms(2), captions=["yes", "no"], kind="spectrogram")
    assert float(ex.maps["act2"].max()) == 0.0 and float(ex.maps["act1"].max()) > 0.0
    spectrogram, active, dead = panels(spectrogram_figure(ex, rows=[0]))
    assert coloured(spectrogram) == 0.0
    assert coloured(dead) == 0.0  # nothing laid over it: the grey spectrogram only
    assert abs(dead.mean() - spectrogram.mean()) < 0.01  # the same picture, resampled
    assert coloured(active) > 0.5


def test_the_overlay_follows_where_units_are_active() -> None:
    maps = torch.zeros(1, 20, 49)
    maps[0, :, 25:] = 1.0  # the layer active in the second half of the clip only
    ex = Examples(torch.rand(1, 1, BANDS, FRAMES), {"half": maps}, ["go"], "spectrogram")
    _, half = panels(spectrogram_figure(ex))
    width = half.shape[1]
    assert coloured(half[:, : int(width * 0.45)]) == 0.0
    assert coloured(half[:, int(width * 0.55):]) > 0.9


def test_alpha_grows_with_the_fraction_active() -> None:
    rgba = activity_rgba(torch.tensor([[0.0, 0.1, 0.2]]), top=0.2)
    assert rgba[0, 0, 3] == 0.0 and 0.0 < rgba[0, 1, 3] < rgba[0, 2, 3]


def test_pngs_one_per_clip_named_by_word_and_their_content(tmp_path: Path) -> None:
    matplotlib_image = pytest.importorskip("matplotlib.image")
    x = spectrograms(3)
    words = ["yes", "no", "left right"]
    live = example_maps(kws_net(dead_bias=0.0), x, captions=words, kind="spectrogram")
    dead = example_maps(kws_net(), x, captions=words, kind="spectrogram", layers=["act2"])
    live_paths = write_spectrogram_pngs(live, tmp_path / "live")
    dead_paths = write_spectrogram_pngs(dead, tmp_path / "dead")
    assert [p.name for p in live_paths] == ["clip-00-yes.png", "clip-01-no.png",
                                            "clip-02-left_right.png"]
    for live_png, dead_png in zip(live_paths, dead_paths, strict=True):
        assert coloured(matplotlib_image.imread(live_png)) > 0.1
        assert coloured(matplotlib_image.imread(dead_png)) == 0.0


def test_rows_labelled_by_word_and_layers_thinned() -> None:
    maps = {f"l{i}": torch.rand(2, 20, 49) for i in range(10)}
    ex = Examples(torch.rand(2, 1, BANDS, FRAMES), maps, ["yes", "no"], "spectrogram")
    fig = spectrogram_figure(ex, max_layers=4)
    assert len(fig.axes) == 2 * (1 + 4)
    assert fig.axes[0].get_ylabel().startswith("yes") and fig.axes[5].get_ylabel().startswith("no")
    assert fig.axes[4].get_title().startswith("l9")
    with pytest.raises(ValueError, match="rows must be indices of the 2 clips"):
        spectrogram_figure(ex, rows=[2])


def test_the_report_draws_spectrograms_or_says_why_not() -> None:
    net, x = kws_net(dead_bias=0.0), spectrograms(2)
    prof = actsparse.profile(net, [x])
    ex = example_maps(net, x, captions=["yes", "no"], kind="spectrogram")
    page = render(prof, examples=ex)
    assert "Active units over example spectrograms" in page
    assert "Firing maps over example images" not in page
    assert page.count("data:image/png;base64,") == 5 + 1 + 1  # plots + spatial maps + overlay
    bare = render(prof, examples_note="Not drawn: it takes the raw waveform.")
    assert "Active units over example inputs" in bare and "the raw waveform" in bare
    assert bare.count("data:image/png;base64,") == 5 + 1
