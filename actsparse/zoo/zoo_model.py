"""A loaded model together with what it takes to feed it: the ZooModel.

Input normalisation lives here, in :meth:`ZooModel.batches`, not inside the module: the
``nn.Module`` is exactly the pretrained network (its layer names match the original, and
exploit/prune see no extra wrapper), and :meth:`ZooModel.views` gives the same inputs in
display form (``[0, 1]``) for heatmaps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from actsparse.zoo.data import Data, ImageData, TextData
from actsparse.zoo.speech_data import SpeechData
from actsparse.zoo.transforms import center_view, grid_crops, normalize, to_channels

Crops = Literal["grid", "center"]


@dataclass(frozen=True)
class ImageInput:
    """What an image model expects: a square ``size``, ``channels``, and its normalisation.

    ``crop_fraction`` is used by the 'center' view: resize the shorter side to
    ``size / crop_fraction`` and crop the centre (0.875 is ImageNet's 256 -> 224).

    Example:
        >>> ImageInput(28, 1, (0.1307,), (0.3081,)).shape
        (1, 28, 28)
    """

    size: int
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop_fraction: float = 1.0

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one input."""
        return (self.channels, self.size, self.size)


@dataclass
class ZooModel:
    """A model in eval mode, its kind, its tokenizer or image input, and how to batch data.

    Attributes:
        module: the ``nn.Module``, in eval mode, on the CPU, gradients untouched.
        kind: 'image', 'text' or 'speech' (batches of waves ``(B, T)`` at ``sample_rate``).
        name: the zoo name or the path it was loaded from.
        tokenizer: the Hugging Face tokenizer of a text model.
        image_input: the input an image model expects; None for a user's own module, whose
            images are batched as they are.
        classes: names of the output classes, where known.
        sample_rate: the audio rate a speech model takes.
        features: what turns a speech batch of waves ``(B, T)`` into the module's input (a
            keyword-spotting run's log-mels); None: the module takes the waves.

    Example:
        >>> from actsparse.zoo.data import ImageData
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
        >>> zm = ZooModel(net, "image", "toy", image_input=ImageInput(8, 1, (0.5,), (0.5,)))
        >>> data = ImageData(torch.rand(5, 1, 8, 8), torch.zeros(5, dtype=torch.long))
        >>> [tuple(b.shape) for b in zm.batches(data, batch_size=2)]
        [(2, 1, 8, 8), (2, 1, 8, 8), (1, 1, 8, 8)]
    """

    module: nn.Module
    kind: str
    name: str = ""
    tokenizer: Any = None
    image_input: ImageInput | None = None
    classes: list[str] = field(default_factory=list)
    sample_rate: int = 16000
    features: Callable[[Tensor], Tensor] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("image", "text", "speech"):
            raise ValueError(f"kind must be 'image', 'text' or 'speech', not {self.kind!r}")
        self.module.eval()

    def views(self, images: Tensor, crops: Crops = "grid") -> Tensor:
        """Images as this model sees them, before normalisation: ``[0, 1]``, its size and channels.

        ``crops='grid'`` covers each image with overlapping crops at its own resolution (a
        640x427 photo gives 6 crops of 224); ``'center'`` takes one centre crop per image.

        Example:
            >>> zm = ZooModel(nn.Identity(), "image", image_input=ImageInput(4, 3, (0.0,), (1.0,)))
            >>> zm.views(torch.rand(2, 1, 6, 9)).shape  # 2 x 3 crops per image
            torch.Size([12, 3, 4, 4])
            >>> zm.views(torch.rand(2, 1, 6, 9), crops="center").shape
            torch.Size([2, 3, 4, 4])
        """
        spec = self.image_input
        if spec is None:
            return images
        if images.ndim == 2:  # rows: flattened images of exactly this model's input
            if images.shape[1] != math.prod(spec.shape):
                c, h, w = spec.shape
                raise ValueError(
                    f"model {self.name!r} takes images of shape (N, {c}, {h}, {w}) (any size is "
                    f"cropped to {h}x{w}) or rows of {c * h * w} values; the data has rows of "
                    f"{images.shape[1]} values"
                )
            images = images.reshape(images.shape[0], *spec.shape)
        images = to_channels(images, spec.channels)
        if crops == "center":
            return center_view(images, spec.size, spec.crop_fraction)
        return grid_crops(images, spec.size)

    def normalize(self, views: Tensor) -> Tensor:
        """Apply the model's input normalisation to :meth:`views` output.

        Example:
            >>> zm = ZooModel(nn.Identity(), "image", image_input=ImageInput(2, 1, (0.5,), (0.5,)))
            >>> zm.normalize(torch.ones(1, 1, 2, 2)).flatten().tolist()
            [1.0, 1.0, 1.0, 1.0]
        """
        spec = self.image_input
        return views if spec is None else normalize(views, spec.mean, spec.std)

    def batches(self, data: Data | SpeechData, batch_size: int = 32, limit: int | None = None,
                max_length: int = 128, crops: Crops = "grid") -> Iterator[Any]:
        """Model inputs for ``data``: normalised image tensors, dicts of tokenizer outputs, or
        waves ``(B, T)`` of speech clips (their :attr:`features` where the model has them).

        The arguments are checked at once; the batches are made lazily, as they are consumed.

        Args:
            data: ImageData for an image model, TextData for a text model.
            batch_size: inputs per batch (crops count as inputs).
            limit: at most this many inputs in all (crops or passages).
            max_length: text is truncated to this many tokens; batches are padded to their
                longest passage and carry an ``attention_mask``.
            crops: how images are cut to the model's size, see :meth:`views`.

        Example:
            >>> from actsparse.zoo.data import TextData
            >>> zm = ZooModel(nn.Identity(), "image")
            >>> zm.batches(TextData(["hi"]))
            Traceback (most recent call last):
            ...
            TypeError: model '' takes image data, got text data ''
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if data.kind != self.kind:
            raise TypeError(f"model {self.name!r} takes {self.kind} data, "
                            f"got {data.kind} data {data.name!r}")
        if isinstance(data, SpeechData):
            if data.sample_rate != self.sample_rate:
                raise ValueError(f"model {self.name!r} takes {self.sample_rate} Hz audio; "
                                 f"{data.name!r} is {data.sample_rate} Hz")
            waves, features = data.waves[:limit], self.features or (lambda w: w)
            return (features(waves[start:start + batch_size])
                    for start in range(0, len(waves), batch_size))
        if isinstance(data, TextData):
            if self.tokenizer is None:
                raise TypeError(f"model {self.name!r} has no tokenizer, so it cannot take text")
            return self._text_batches(data, batch_size, limit, max_length)
        if not isinstance(data, ImageData):
            raise TypeError(f"expected ImageData or TextData, got {type(data).__name__}")
        return self._image_batches(data, batch_size, limit, crops)

    def _text_batches(self, data: TextData, batch_size: int, limit: int | None,
                      max_length: int) -> Iterator[dict[str, Tensor]]:
        texts = data.texts[:limit]
        for start in range(0, len(texts), batch_size):
            encoded = self.tokenizer(texts[start:start + batch_size], padding=True,
                                     truncation=True, max_length=max_length,
                                     return_tensors="pt")
            yield {key: value for key, value in encoded.items() if isinstance(value, Tensor)}

    def _image_batches(self, data: ImageData, batch_size: int, limit: int | None,
                       crops: Crops) -> Iterator[Tensor]:
        # Views are made a chunk of source images at a time, so memory stays one chunk deep.
        remaining = float("inf") if limit is None else limit
        pending: list[Tensor] = []
        for start in range(0, len(data), batch_size):
            if remaining <= 0:
                break
            views = self.views(data.images[start:start + batch_size], crops)
            views = views[: int(min(remaining, views.shape[0]))]
            remaining -= views.shape[0]
            pending.append(views)
            buffered = torch.cat(pending)
            while buffered.shape[0] >= batch_size:
                yield self.normalize(buffered[:batch_size])
                buffered = buffered[batch_size:]
            pending = [buffered]
        rest = torch.cat(pending) if pending else torch.empty(0)
        if rest.shape[0]:
            yield self.normalize(rest)
