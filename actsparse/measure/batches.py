"""Turning one batch of any supported form into model arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn


def unpack_batch(
    batch: Any, index: int, input_key: int | str, device: torch.device | None
) -> tuple[tuple[Any, ...], dict[str, Any], Tensor | None]:
    """Model arguments from one batch: ``(args, kwargs, attention_mask or None)``.

    A tensor is the input; a tuple/list gives ``batch[input_key]``; a mapping is passed as
    keyword arguments. Tensors move to ``device``.

    Example:
        >>> args, kwargs, mask = unpack_batch((torch.zeros(2, 3), torch.ones(2)), 0, 0, None)
        >>> args[0].shape, kwargs, mask
        (torch.Size([2, 3]), {}, None)
    """
    if isinstance(batch, Tensor):
        return (_to(batch, device),), {}, None
    if isinstance(batch, Mapping):
        kwargs = {k: _to(v, device) for k, v in batch.items()}
        mask = kwargs.get("attention_mask")
        return (), kwargs, mask if isinstance(mask, Tensor) else None
    if isinstance(batch, list | tuple):
        if not batch:
            raise ValueError(f"batch {index} is an empty {type(batch).__name__}")
        try:
            item = batch[input_key]  # type: ignore[index]
        except (IndexError, TypeError) as err:
            raise ValueError(
                f"batch {index} has no element {input_key!r} to use as the model input"
            ) from err
        return (_to(item, device),), {}, None
    raise TypeError(
        f"batch {index} is a {type(batch).__name__}; expected a Tensor, a tuple/list whose "
        "first element is the input, or a dict of keyword arguments"
    )


def _to(value: Any, device: torch.device | None) -> Any:
    return value.to(device) if isinstance(value, Tensor) and device is not None else value


def model_device(model: nn.Module) -> torch.device | None:
    """The device of the model's first parameter; None for a model without parameters."""
    for param in model.parameters():
        return param.device
    return None
