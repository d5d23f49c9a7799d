"""Per-image firing maps of conv layers, measured on a few real input images.

The maps are what :func:`actsparse.report.overlay.overlay_figure` lays over the images (and
:func:`actsparse.report.spectrogram_overlay.spectrogram_figure` over log-mel spectrograms, for
``kind="spectrogram"``); this module runs the model and keeps the maps, the report only draws
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from actsparse._hooks import LayerSpec, evaluating, hooked, select_layers

MAX_IMAGES = 8  # maps are kept whole (K, h, w) per layer: K stays small

Kind = Literal["image", "spectrogram"]


@dataclass
class Examples:
    """A few input images and, per conv layer, the fraction of its channels active per position.

    Attributes:
        images: (K, C, H, W) float in [0, 1], C = 1 (grey) or 3 (RGB): the images as shown.
        maps: layer name -> (K, h, w) float in [0, 1], that layer's map for each image.
        captions: one line per image (e.g. its label), or empty for none.
        kind: ``"image"``, or ``"spectrogram"`` when each input is a (1, mel bands, frames)
            log-mel spectrogram (drawn with low bands at the bottom and time across).

    Example:
        >>> ex = Examples(torch.rand(2, 1, 8, 8), {"conv": torch.rand(2, 4, 4)})
        >>> len(ex), ex.names
        (2, ['conv'])
    """

    images: Tensor
    maps: dict[str, Tensor]
    captions: list[str] = field(default_factory=list)
    kind: Kind = "image"

    def __post_init__(self) -> None:
        if self.images.dim() != 4 or self.images.shape[1] not in (1, 3):
            raise ValueError(
                f"images must be (K, C, H, W) with C = 1 or 3, got shape {tuple(self.images.shape)}"
            )
        k = self.images.shape[0]
        for name, m in self.maps.items():
            if m.dim() != 3 or m.shape[0] != k:
                raise ValueError(
                    f"the map of layer {name!r} must be (K={k}, h, w), got {tuple(m.shape)}"
                )
        if self.captions and len(self.captions) != k:
            raise ValueError(f"{len(self.captions)} captions for {k} images: give one per image")
        if self.kind not in ("image", "spectrogram"):
            raise ValueError(f"kind must be 'image' or 'spectrogram', got {self.kind!r}")
        if self.kind == "spectrogram" and self.images.shape[1] != 1:
            raise ValueError("a spectrogram has one channel (K, 1, mel bands, frames), got "
                             f"shape {tuple(self.images.shape)}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def names(self) -> list[str]:
        return list(self.maps)


def example_maps(
    model: nn.Module,
    images_for_model: Tensor,
    display_images: Tensor | None = None,
    layers: LayerSpec | Sequence[LayerSpec] | None = None,
    *,
    threshold: float = 0.0,
    max_images: int = MAX_IMAGES,
    captions: Sequence[str] = (),
    kind: Kind = "image",
) -> Examples:
    """Run ``model`` once on a few images and keep, per 4D (N, C, H, W) activation, the
    fraction of channels active at each position of each image.

    Args:
        model: any ``nn.Module``; run in eval mode under ``no_grad``, its modes restored after.
        images_for_model: (K, ...) the model's input, normalised as the model expects. Only the
            first ``max_images`` (8) are used.
        display_images: (K, C, H, W) the same images for display, float in [0, 1] (uint8 is
            divided by 255). ``None``: ``images_for_model`` rescaled per image to [0, 1].
        layers: which layers, as in :func:`actsparse.profile` (default: every activation
            module); those whose output is not 4D are skipped.
        threshold: a value is active when ``|a| > threshold`` (0: when ``a != 0``); pass
            ``profile.config.active_threshold`` to match a profile. NaN counts as active.
        captions: a line per image (its label); those beyond the images used are dropped.
        kind: ``"spectrogram"`` when the inputs are (K, 1, mel bands, frames) log-mels, so the
            report draws them as spectrograms (see :class:`Examples`).

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(),
        ...                           torch.nn.Flatten(), torch.nn.Linear(576, 2), torch.nn.ReLU())
        >>> images = torch.rand(3, 1, 14, 14)
        >>> ex = example_maps(net, images, images)
        >>> ex.names, tuple(ex.maps["1"].shape)
        (['1'], (3, 12, 12))
    """
    if not isinstance(images_for_model, Tensor) or images_for_model.dim() < 1:
        raise TypeError("images_for_model must be a tensor with a leading batch dimension")
    if max_images < 1:
        raise ValueError(f"max_images must be >= 1, got {max_images}")
    inputs = images_for_model[:max_images]
    k = int(inputs.shape[0])
    shown = _display(display_images if display_images is not None else inputs, k)
    maps: dict[str, Tensor] = {}

    def observe(name: str, x: Tensor) -> None:
        if x.dim() != 4 or not x.is_floating_point():
            return
        x = x.detach()[:k]
        active = x.abs() > threshold if threshold > 0 else x != 0  # (K, C, h, w)
        maps[name] = active.float().mean(dim=1).cpu()  # (K, h, w)

    targets = select_layers(model, layers)
    device = next((p.device for p in model.parameters()), None)
    with evaluating(model), torch.no_grad(), hooked(model, targets, observe):
        model(inputs.to(device) if device is not None else inputs)
    if not maps:
        raise ValueError(
            "none of the selected layers gives a 4D (N, C, H, W) activation, so there is no map "
            "to overlay; pass layers=[...] naming conv activations (e.g. the ReLU after a Conv2d)"
        )
    return Examples(shown, maps, list(captions)[:k], kind)


def _display(images: Tensor, k: int) -> Tensor:
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(
            "display_images must be (K, C, H, W) with C = 1 or 3 (pass them explicitly when the "
            f"model's input is not an image), got shape {tuple(images.shape)}"
        )
    if images.shape[0] < k:
        raise ValueError(f"display_images has {images.shape[0]} images; the model got {k}")
    shown = images[:k].detach().cpu()
    if shown.dtype == torch.uint8:
        return shown.float() / 255.0
    shown = shown.float()
    if shown.min() < 0 or shown.max() > 1:  # not yet display-ready: rescale each image
        lo = shown.amin(dim=(1, 2, 3), keepdim=True)
        hi = shown.amax(dim=(1, 2, 3), keepdim=True)
        shown = (shown - lo) / (hi - lo).clamp_min(1e-12)
    return shown.nan_to_num(0.0).clamp(0.0, 1.0)
