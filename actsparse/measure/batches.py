"""Turning batches of any supported form into model calls."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

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


class ModelCall(NamedTuple):
    """One batch as a model call: ``model(*args, **kwargs)``; ``mask`` is its attention mask."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    mask: Tensor | None

    @property
    def size(self) -> int | None:
        """The batch size: the leading size of the input tensor (or first keyword tensor)."""
        if self.args:
            first = self.args[0]
            return int(first.shape[0]) if isinstance(first, Tensor) and first.dim() else None
        for value in self.kwargs.values():
            if isinstance(value, Tensor) and value.dim():
                return int(value.shape[0])
        return None


def iter_calls(model: nn.Module, batches: Iterable[Any], input_key: int | str = 0
               ) -> Iterator[ModelCall]:
    """Each batch as a :class:`ModelCall`, its tensors on the device of ``model``.

    Batches take any form :func:`unpack_batch` accepts; an error names the batch's index.

    Example:
        >>> net = nn.Linear(3, 2)
        >>> calls = iter_calls(net, [torch.zeros(4, 3), (torch.zeros(2, 3), torch.ones(2))])
        >>> [(len(c.args), c.size) for c in calls]
        [(1, 4), (1, 2)]
        >>> call = next(iter_calls(net, [{"input_ids": torch.zeros(1, 5, dtype=torch.long)}]))
        >>> call.args, list(call.kwargs), call.size, call.mask
        ((), ['input_ids'], 1, None)
    """
    device = model_device(model)
    for index, batch in enumerate(batches):
        yield ModelCall(*unpack_batch(batch, index, input_key, device))


def _to(value: Any, device: torch.device | None) -> Any:
    return value.to(device) if isinstance(value, Tensor) and device is not None else value


def model_device(model: nn.Module) -> torch.device | None:
    """The device of the model's first parameter; None for a model without parameters."""
    for param in model.parameters():
        return param.device
    return None
