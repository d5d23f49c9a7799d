"""MagnitudeThreshold: zero every activation whose magnitude is at most a threshold.

``y = x if |x| > t else 0``, on both signs (unlike a thresholded ReLU, which keeps only
``x > t``). It turns the soft sparsity of GELU/SiLU language models (many values near zero, few
exact zeros) into exact zeros that a sparse kernel can skip. Thresholds are usually set by
:func:`actsparse.induce.calibrate.calibrate_thresholds` and placed on a model with
:mod:`actsparse.induce.insert`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from actsparse._hooks import register_activation


@register_activation
class MagnitudeThreshold(nn.Module):
    r"""Keep activations with ``|x| > threshold``; set the rest to exactly zero.

    Args:
        threshold: a number, or a tensor broadcastable to the input: ``()`` for one threshold,
            ``(D,)`` for one per feature of the last dimension (a Linear layer's input
            features). Must be ``>= 0``; ``0`` keeps every nonzero value.

    The threshold is a persistent buffer ``threshold`` (it moves with ``.to()`` and is saved in
    ``state_dict``). Loading a state dict that lacks it (a checkpoint of the model from before
    the threshold was inserted) keeps the current value, so original checkpoints still load
    with ``strict=True``. NaN passes through (it is not ``<= t``); gradients flow to kept values.

    Shape:
        - Input: ``(*)``, any shape.
        - Output: ``(*)``, same shape and dtype as the input.

    Example:
        >>> import torch
        >>> from actsparse.induce.magnitude import MagnitudeThreshold
        >>> m = MagnitudeThreshold(0.5)
        >>> m
        MagnitudeThreshold(threshold=0.5)
        >>> m(torch.tensor([-1.0, -0.5, 0.2, 0.7]))
        tensor([-1.0000, 0.0000, 0.0000, 0.7000])
        >>> MagnitudeThreshold(torch.tensor([0.1, 2.0]))(torch.tensor([[1.0, 1.0]]))
        tensor([[1., 0.]])
    """

    threshold: Tensor

    def __init__(self, threshold: float | Tensor = 0.0) -> None:
        super().__init__()
        self.register_buffer("threshold", _as_threshold(threshold))

    def forward(self, x: Tensor) -> Tensor:
        return x.masked_fill(x.abs() <= self.threshold, 0.0)

    def set_threshold(self, threshold: float | Tensor) -> None:
        """Replace the threshold (its shape may change), keeping the buffer's device.

        Example:
            >>> m = MagnitudeThreshold(0.1)
            >>> m.set_threshold(0.25)
            >>> float(m.threshold)
            0.25
        """
        self.threshold = _as_threshold(threshold).to(self.threshold.device)

    def extra_repr(self) -> str:
        t = self.threshold
        if t.numel() == 1:
            return f"threshold={float(t):.4g}"
        return (f"threshold=per-feature {tuple(t.shape)}, "
                f"min={float(t.min()):.4g}, max={float(t.max()):.4g}")

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, local_metadata: dict[str, Any],
        strict: bool, missing_keys: list[str], unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        key = prefix + "threshold"
        if key not in state_dict:  # a checkpoint from before the threshold: keep ours
            state_dict[key] = self.threshold
        elif isinstance(state_dict[key], Tensor) and state_dict[key].shape != self.threshold.shape:
            self.threshold = torch.empty_like(state_dict[key], device=self.threshold.device)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


def _as_threshold(threshold: float | Tensor) -> Tensor:
    t = threshold.detach().clone().float() if isinstance(threshold, Tensor) else (
        torch.tensor(float(threshold)))
    if t.is_complex() or not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
        raise ValueError(f"threshold must be finite and >= 0, got {threshold!r}")
    return t
