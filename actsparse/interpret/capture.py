"""Activation vectors of one layer, captured streaming from any model over batches.

A layer is named as everywhere in actsparse: a qualified module name, or ``NAME:input`` for the
input of that module. Its output becomes vectors along its feature dimension:

- ``(B, D)``: one vector per sample;
- ``(B, T, D)`` (tokens): one vector per token, padded tokens (``attention_mask == 0``) left out;
- ``(B, C, H, W)`` (conv maps): one ``C``-vector per position.

Only the first call of the module in each forward is captured, and by default the forward is
stopped right there (``stop_early``): the layers after it are never run, which halves the cost
of capturing a middle layer of a language model. Memory is one batch of vectors when streaming,
or at most ``limit`` vectors (a uniform reservoir sample with ``reservoir=True``).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

from actsparse._hooks import Target, evaluating, hooked, select_layers
from actsparse.measure.batches import iter_calls


class _Captured(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised from the hook to stop the forward once the layer has been seen."""


def resolve_layer(model: nn.Module, layer: str) -> Target:
    """The one :class:`~actsparse._hooks.Target` named by ``layer`` (a name or ``NAME:input``).

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
        >>> resolve_layer(net, "1:input")
        Target(name='1:input', module_name='1', on_input=True)
        >>> resolve_layer(net, "fc")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: layer pattern 'fc' matches no module; module names are: 0, 1
    """
    if not isinstance(layer, str) or not layer:
        raise ValueError(f"layer must be a module name (or NAME:input), got {layer!r}")
    targets = select_layers(model, [layer])
    if len(targets) != 1:
        names = ", ".join(t.name for t in targets[:8])
        raise ValueError(f"layer {layer!r} matches {len(targets)} modules ({names}); name "
                         "exactly one layer")
    return targets[0]


def as_vectors(x: Tensor, mask: Tensor | None = None) -> Tensor:
    """A layer's output as ``(N, D)`` vectors: see the module doc; ``mask`` drops padding.

    Example:
        >>> as_vectors(torch.zeros(2, 3, 5), torch.tensor([[1, 1, 0], [1, 0, 0]])).shape
        torch.Size([3, 5])
        >>> as_vectors(torch.zeros(2, 4, 6, 6)).shape
        torch.Size([72, 4])
    """
    if x.dim() < 2:
        raise ValueError(f"cannot make vectors of an activation of shape {tuple(x.shape)}: it "
                         "needs a batch and a feature dimension")
    if x.dim() == 3:
        if mask is not None and mask.shape == x.shape[:2]:
            return x[mask.to(x.device).bool()]
        return x.reshape(-1, x.shape[-1])
    if x.dim() > 3:  # (B, C, *spatial): channels are the features
        return x.movedim(1, -1).reshape(-1, x.shape[1])
    return x


def map_vectors(x: Tensor, fn: Any) -> Tensor:
    """Apply ``fn`` ``(N, D) -> (N, D)`` to every vector of ``x`` and restore its shape.

    Example:
        >>> map_vectors(torch.ones(2, 3, 4, 4), lambda v: v * 2).shape
        torch.Size([2, 3, 4, 4])
    """
    if x.dim() > 3:
        moved = x.movedim(1, -1)
        out: Tensor = fn(moved.reshape(-1, x.shape[1]))
        return out.reshape(moved.shape).movedim(-1, 1)
    result: Tensor = fn(x.reshape(-1, x.shape[-1]))
    return result.reshape(x.shape)


def stream_activations(
    model: nn.Module,
    batches: Iterable[Any],
    layer: str,
    *,
    input_key: int | str = 0,
    stop_early: bool = True,
) -> Generator[Tensor, None, None]:
    """Yield the ``(N_i, D)`` activation vectors of ``layer`` for each batch, padding left out.

    Each batch runs in eval mode under ``torch.no_grad()`` with the hook in place only for
    that forward: between yields the model is exactly as it came.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> [tuple(v.shape) for v in stream_activations(net, [torch.randn(3, 4)] * 2, "1")]
        [(3, 8), (3, 8)]
    """
    target = resolve_layer(model, layer)
    for i, (args, kwargs, mask) in enumerate(iter_calls(model, batches, input_key)):
        vectors = _capture_one(model, target, args, kwargs, mask, stop_early)
        if vectors is None:
            raise ValueError(f"layer {layer!r} was not called in the forward of batch {i}, so "
                             "there is nothing to capture")
        yield vectors


def _capture_one(model: nn.Module, target: Target, args: tuple[Any, ...],
                 kwargs: dict[str, Any], mask: Tensor | None, stop_early: bool) -> Tensor | None:
    seen: list[Tensor] = []

    def observe(name: str, x: Tensor) -> None:
        if name != target.name or seen:
            return
        seen.append(as_vectors(x.detach(), mask).float().cpu().clone())
        if stop_early:
            raise _Captured

    try:
        with evaluating(model), hooked(model, [target], observe), torch.no_grad():
            model(*args, **kwargs)
    except _Captured:
        pass
    return seen[0] if seen else None


def capture_activations(
    model: nn.Module,
    batches: Iterable[Any],
    layer: str,
    *,
    limit: int | None = None,
    reservoir: bool = False,
    seed: int = 0,
    input_key: int | str = 0,
    stop_early: bool = True,
) -> Tensor:
    """The activation vectors of ``layer`` over ``batches`` as one ``(N, D)`` float32 tensor.

    Args:
        model, batches, layer, input_key, stop_early: as :func:`stream_activations`.
        limit: keep at most this many vectors: the first ``limit``, or with ``reservoir`` a
            uniform random sample of all of them (memory stays ``limit x D`` either way).
        reservoir: sample uniformly over the whole stream (all batches are run).
        seed: seed of the reservoir sample.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
        >>> capture_activations(net, [torch.randn(5, 4)] * 4, "1", limit=7).shape
        torch.Size([7, 8])
        >>> capture_activations(net, [torch.randn(5, 4)] * 4, "0:input", limit=7,
        ...                     reservoir=True).shape
        torch.Size([7, 4])
    """
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive number of vectors or None, got {limit!r}")
    stream = stream_activations(model, batches, layer, input_key=input_key,
                                stop_early=stop_early)
    if limit is not None and reservoir:
        return _reservoir(stream, limit, seed)
    chunks: list[Tensor] = []
    kept = 0
    for chunk in stream:
        if limit is not None:
            chunk = chunk[: limit - kept]
        chunks.append(chunk)
        kept += chunk.shape[0]
        if limit is not None and kept >= limit:
            stream.close()
            break
    if not chunks:
        raise ValueError("batches is empty: there are no activations to capture")
    return torch.cat(chunks)


def capture_pairs(
    model: nn.Module,
    batches: Iterable[Any],
    inputs: str,
    outputs: str,
    *,
    limit: int | None = None,
    input_key: int | str = 0,
) -> tuple[Tensor, Tensor]:
    """Row-aligned vectors of two layers in the same forwards, e.g. a module's input and output.

    The pairs a transcoder learns from: ``capture_pairs(model, batches, "mlp:input", "mlp")``.
    Both are captured in one forward per batch (stopped once both are seen), padding left out
    of both, the first ``limit`` pairs kept.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
        >>> x, y = capture_pairs(net, [torch.randn(5, 4)] * 3, "0:input", "0", limit=12)
        >>> x.shape, y.shape, torch.allclose(net[0](x), y)
        (torch.Size([12, 4]), torch.Size([12, 8]), True)
    """
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive number of vectors or None, got {limit!r}")
    targets = [resolve_layer(model, inputs), resolve_layer(model, outputs)]
    if targets[0].name == targets[1].name:
        raise ValueError(f"inputs and outputs are the same layer {inputs!r}; name two")
    left: list[Tensor] = []
    right: list[Tensor] = []
    kept = 0
    for i, (args, kwargs, mask) in enumerate(iter_calls(model, batches, input_key)):
        seen = _capture_both(model, targets, args, kwargs, mask)
        if len(seen) != 2:
            missing = [t.name for t in targets if t.name not in seen]
            raise ValueError(f"layer {missing[0]!r} was not called in the forward of batch {i}")
        a, b = seen[targets[0].name], seen[targets[1].name]
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"{inputs!r} gives {a.shape[0]} vectors per batch but {outputs!r} "
                             f"{b.shape[0]}: they must be taken at the same positions")
        take = a.shape[0] if limit is None else min(a.shape[0], limit - kept)
        left.append(a[:take])
        right.append(b[:take])
        kept += take
        if limit is not None and kept >= limit:
            break
    if not left:
        raise ValueError("batches is empty: there are no activations to capture")
    return torch.cat(left), torch.cat(right)


def _capture_both(model: nn.Module, targets: list[Target], args: tuple[Any, ...],
                  kwargs: dict[str, Any], mask: Tensor | None) -> dict[str, Tensor]:
    names = {t.name for t in targets}
    seen: dict[str, Tensor] = {}

    def observe(name: str, x: Tensor) -> None:
        if name in seen or name not in names:
            return
        seen[name] = as_vectors(x.detach(), mask).float().cpu().clone()
        if len(seen) == len(names):
            raise _Captured

    try:
        with evaluating(model), hooked(model, targets, observe), torch.no_grad():
            model(*args, **kwargs)
    except _Captured:
        pass
    return seen


def _reservoir(stream: Iterator[Tensor], limit: int, seed: int) -> Tensor:
    """Algorithm R over a stream of chunks: a uniform sample of ``limit`` vectors."""
    gen = torch.Generator().manual_seed(seed)
    buffer: Tensor | None = None
    filled = seen = 0
    for chunk in stream:
        if buffer is None:
            buffer = chunk.new_empty(limit, chunk.shape[1])
        take = min(limit - filled, chunk.shape[0])
        buffer[filled:filled + take] = chunk[:take]
        filled += take
        rest = chunk[take:]
        seen += take
        if rest.shape[0]:
            # item number i (0-based in the stream) replaces slot j ~ U{0..i} when j < limit
            position = torch.arange(seen, seen + rest.shape[0], dtype=torch.float64)
            slots = (torch.rand(rest.shape[0], generator=gen, dtype=torch.float64)
                     * (position + 1)).long()
            for row in torch.nonzero(slots < limit).flatten().tolist():  # in stream order
                buffer[int(slots[row])] = rest[row]
            seen += rest.shape[0]
    if buffer is None:
        raise ValueError("batches is empty: there are no activations to capture")
    return buffer[:filled]
