"""One pass of a model over (inputs, labels) batches, feeding layer outputs to observers.

Shared by selectivity, overlap and top examples so that ``actsparse interpret`` measures all
three in a single pass. An observer sees each hooked layer output with the batch's labels, its
attention mask (text) and the index of the batch's first sample in the stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from actsparse._hooks import LayerSpec, evaluating, hooked, parse_layer_name, select_layers
from actsparse._jsonio import to_jsonable
from actsparse.measure.batches import iter_calls


class Observer(Protocol):
    """Anything with ``update(layer, x, labels, mask, offset)``."""

    def update(self, layer: str, x: Tensor, labels: Tensor | None, mask: Tensor | None,
               offset: int) -> None: ...


def split_batch(batch: Any, index: int, need_labels: bool) -> tuple[Any, Tensor | None]:
    """``(inputs, labels or None)`` of one batch; a tuple/list is ``(inputs, labels, ...)``.

    Labels are checked and returned only when ``need_labels``.

    Example:
        >>> x, y = split_batch((torch.zeros(2, 3), torch.tensor([1, 0])), 0, True)
        >>> x.shape, y.tolist()
        (torch.Size([2, 3]), [1, 0])
        >>> split_batch(torch.zeros(2, 3), 4, True)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: batch 4 has no labels: it is a Tensor; pass (inputs, labels) pairs, ...
    """
    if isinstance(batch, list | tuple):
        if not batch:
            raise ValueError(f"batch {index} is an empty {type(batch).__name__}")
        inputs, labels = batch[0], batch[1] if len(batch) > 1 else None
    else:
        inputs, labels = batch, None
    if not need_labels:
        return inputs, None
    if labels is None:
        raise ValueError(
            f"batch {index} has no labels: it is a {type(batch).__name__}; pass "
            "(inputs, labels) pairs, labels an integer tensor of shape (batch,)")
    labels = torch.as_tensor(labels)
    if labels.dim() != 1 or labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(
            f"batch {index}: labels must be an integer tensor of shape (batch,), got "
            f"{labels.dtype} of shape {tuple(labels.shape)}")
    return inputs, labels.long().cpu()


def run_observers(
    model: nn.Module,
    batches: Iterable[Any],
    observers: Sequence[Observer],
    *,
    layers: LayerSpec | Sequence[LayerSpec] | None = None,
    need_labels: bool = True,
    start: int = 0,
) -> int:
    """Run ``model`` over ``batches`` in eval mode without grads; return the samples seen.

    Every selected layer's output goes to every observer; the first sample has index
    ``start`` (data-parallel: the index of this rank's first sample in the whole data, so that
    sample indices are global and the observers' ``all_reduce`` equals one pass). The model's
    train/eval modes are restored afterwards and the hooks always removed. Raises ValueError
    when there are no batches, when a batch lacks labels that are needed, or when a selected
    layer never ran.
    """
    if isinstance(batches, Tensor | Mapping):
        raise TypeError("batches must be an iterable of batches (e.g. a list of "
                        f"(inputs, labels) pairs), not a single {type(batches).__name__}")
    targets = select_layers(model, layers)
    state: dict[str, Any] = {"labels": None, "mask": None, "offset": 0}
    seen_layers: set[str] = set()

    def observe(name: str, x: Tensor) -> None:
        if not x.is_floating_point():
            return
        labels = state["labels"]
        if labels is not None and labels.shape[0] != x.shape[0]:
            raise ValueError(
                f"layer {name!r}: {labels.shape[0]} labels for an output of batch size "
                f"{x.shape[0]}; give one label per sample")
        seen_layers.add(parse_layer_name(name).key)
        for obs in observers:
            obs.update(name, x.detach().float(), labels, state["mask"], state["offset"])

    def inputs() -> Iterator[Any]:  # the labels go to the observers through ``state``
        for i, batch in enumerate(batches):
            x, state["labels"] = split_batch(batch, i, need_labels)
            yield x

    count = 0
    if start < 0:
        raise ValueError(f"start (the index of the first sample) must be >= 0, got {start}")
    with evaluating(model), hooked(model, targets, observe), torch.inference_mode():
        for call in iter_calls(model, inputs()):
            mask = call.mask
            state.update(mask=None if mask is None else mask.bool().cpu(), offset=start + count)
            model(*call.args, **call.kwargs)
            count += call.size or 0
    if count == 0:
        raise ValueError("batches is empty: there is nothing to measure")
    missing = [t.name for t in targets if t.name not in seen_layers]
    if missing:
        raise ValueError(f"layer(s) {', '.join(missing)} never ran in the forward pass (or gave "
                         "no float tensor); choose layers that the model calls")
    return count


def per_sample_units(x: Tensor, mask: Tensor | None) -> Tensor:
    """``(B, units)``: conv maps averaged over space, token outputs over their valid tokens.

    ``(B, U)`` is kept; ``(B, T, D)`` is (batch, tokens, features), averaged over the tokens
    where ``mask`` is set; ``(B, C, *spatial)`` (4-D and up) is averaged over space.

    Example:
        >>> per_sample_units(torch.ones(2, 3, 4, 4), None).shape
        torch.Size([2, 3])
        >>> x = torch.tensor([[[1.0], [3.0]]])  # one sequence, two tokens, one feature
        >>> per_sample_units(x, torch.tensor([[True, False]])).tolist()
        [[1.0]]
    """
    if x.dim() == 2:
        return x
    if x.dim() == 3:
        if mask is not None and mask.shape == x.shape[:2]:
            w = mask.to(device=x.device, dtype=x.dtype).unsqueeze(-1)  # (B, T, 1)
            return (x * w).sum(1) / w.sum(1).clamp_min(1.0)
        return x.mean(1)
    if x.dim() >= 4:
        return x.flatten(2).mean(2)
    raise ValueError(f"cannot take per-sample units of an activation of shape {tuple(x.shape)}")


def json_float(value: float) -> float | None:
    """``value`` as a float, or None when it is NaN or infinite (as ``_jsonio.to_jsonable``).

    Example:
        >>> json_float(0.5), json_float(float("nan"))
        (0.5, None)
    """
    result: float | None = to_jsonable(float(value))
    return result


def json_list(t: Tensor) -> Any:
    """A tensor as nested lists, NaN and infinities as None (:func:`actsparse._jsonio.to_jsonable`).

    Example:
        >>> json_list(torch.tensor([[1.0, float("nan")]]))
        [[1.0, None]]
    """
    return to_jsonable(t)
