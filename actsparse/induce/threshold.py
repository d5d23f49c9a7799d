"""A ReLU with a threshold: ``y = x if x > threshold else 0``.

Unlike ``ReLU(x - t)`` the values that pass are not shifted, so raising the threshold removes
small activations without changing the large ones (sometimes called a jump ReLU). The threshold
is a scalar or one value per channel, stored as a *buffer*, not a parameter: the output does not
depend smoothly on it (its gradient is zero almost everywhere), so gradient descent could not
train it; it is set from measured activations instead, e.g. to a quantile of ``|a|`` taken from
a :class:`~actsparse.measure.Profile`. As a buffer it is saved in the state dict and follows
``.to(device)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from actsparse._hooks import register_activation


class ThresholdReLU(nn.Module):
    r"""``y = x`` where ``x > threshold``, else 0; one threshold, or one per channel.

    The gradient is passed where ``x > threshold`` and is 0 elsewhere. NaN inputs stay NaN
    (as with ``nn.ReLU``). With ``threshold=0`` this is ``nn.ReLU``.

    Args:
        threshold: a number, or a 1-D tensor / sequence with one threshold per channel.
        num_channels: the number of channels for per-channel thresholds (a scalar
            ``threshold`` is then repeated); inferred from a 1-D ``threshold`` when omitted.
        channel_dim: which input dimension holds the channels (1 for ``(N, C, ...)``, -1 for
            ``(B, T, C)`` transformer activations).

    Attributes:
        threshold: the buffer, of shape ``()`` or ``(num_channels,)``; assign in place
            (``module.threshold.copy_(...)``) to recalibrate.

    Shape:
        - Input: any shape; with per-channel thresholds ``x.shape[channel_dim] == num_channels``
        - Output: the same shape.

    Examples:
        >>> act = ThresholdReLU(0.5)
        >>> act(torch.tensor([-1.0, 0.2, 0.5, 0.7, 2.0]))
        tensor([0.0000, 0.0000, 0.0000, 0.7000, 2.0000])
        >>> per_channel = ThresholdReLU([0.0, 1.0], channel_dim=-1)
        >>> per_channel
        ThresholdReLU(num_channels=2, channel_dim=-1)
        >>> per_channel(torch.tensor([[0.5, 0.5], [2.0, 2.0]]))
        tensor([[0.5000, 0.0000],
                [2.0000, 2.0000]])
    """

    threshold: Tensor

    def __init__(self, threshold: float | Tensor | list[float] = 0.0,
                 num_channels: int | None = None, channel_dim: int = 1) -> None:
        super().__init__()
        t = torch.as_tensor(threshold, dtype=torch.float32).detach().clone()
        if t.dim() > 1:
            raise ValueError(
                f"threshold must be a number or a 1-D tensor of per-channel thresholds, got "
                f"shape {tuple(t.shape)}"
            )
        if num_channels is not None:
            if num_channels < 1:
                raise ValueError(f"num_channels must be at least 1, got {num_channels}")
            if t.dim() == 0:
                t = t.repeat(num_channels)
            elif t.numel() != num_channels:
                raise ValueError(
                    f"threshold has {t.numel()} values but num_channels={num_channels}"
                )
        if torch.isnan(t).any():
            raise ValueError("threshold contains NaN")
        self.channel_dim = channel_dim
        self.register_buffer("threshold", t)

    @property
    def num_channels(self) -> int | None:
        """The number of channels of a per-channel threshold, None for a scalar one."""
        return None if self.threshold.dim() == 0 else self.threshold.numel()

    def forward(self, x: Tensor) -> Tensor:
        t = self.threshold
        if t.dim() == 1:
            if not -x.dim() <= self.channel_dim < x.dim():
                raise ValueError(
                    f"ThresholdReLU(channel_dim={self.channel_dim}) got an input of shape "
                    f"{tuple(x.shape)} with only {x.dim()} dimensions"
                )
            dim = self.channel_dim % x.dim()
            if x.shape[dim] != t.numel():
                raise ValueError(
                    f"ThresholdReLU has {t.numel()} channel thresholds but the input has "
                    f"{x.shape[dim]} channels in dim {self.channel_dim} (shape {tuple(x.shape)})"
                )
            shape = [1] * x.dim()
            shape[dim] = t.numel()
            t = t.view(shape)
        return x.masked_fill(x <= t.to(x.dtype), 0.0)

    def extra_repr(self) -> str:
        if self.threshold.dim() == 0:
            return f"threshold={self.threshold.item():g}"
        return f"num_channels={self.threshold.numel()}, channel_dim={self.channel_dim}"


register_activation(ThresholdReLU)
