"""The inputs that activate each unit most, kept streaming in bounded memory.

Per layer the state is a ``(units, k)`` buffer of the best values so far, with the index of
the sample (its position in the stream of batches) and where in that sample the unit peaked:
each batch's per-sample peaks are appended and cut back to ``k`` with ``torch.topk``, so
memory is ``units * (k + batch)`` whatever the size of the data.

What a "unit" and its "position" are depends on the layer's output:

- ``(B, U)``: a feature; no position (the whole input drove it).
- ``(B, T, D)`` (tokens): a feature; its peak over the valid tokens and the token index, so a
  snippet with that token marked can be shown.
- ``(B, C, H, W)`` (conv maps): a channel; its peak over space and the ``(h, w)`` of the peak,
  whose receptive field in the input is the patch that drove it (:func:`receptive_field`).

Each sample appears at most once per unit (its peak), so the ``k`` examples are ``k`` inputs.

The receptive field of a conv position is computed from the chain of Conv/Pool modules that
come before the layer (in ``named_modules`` order, which is the forward order of plain CNNs):
a layer with kernel ``k``, stride ``s``, padding ``p`` and dilation ``d`` maps output position
``o`` to the inputs ``o*s - p ... o*s - p + d*(k-1)``, so composing the chain gives, in input
pixels, ``top = o * jump + start`` and a ``size``. :func:`receptive_field` checks the chain
against the layer's actual output size and raises if they disagree (functional pooling,
upsampling, branches); :func:`receptive_field_by_gradient` is the fallback: the box of input
pixels with a nonzero gradient for one output position.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from actsparse._hooks import INPUT_SUFFIX, LayerSpec, hooked, select_layers
from actsparse.interpret._observe import json_list, run_observers


@dataclass
class TopActivations:
    """The ``k`` samples that activated each unit of one layer most, best first.

    Attributes:
        values: (units, k) float peak activation; -inf where fewer than k samples were seen.
        samples: (units, k) int64 index of the sample in the stream; -1 where empty.
        positions: (units, k, P) int64 where in the sample the unit peaked: P = 0 for
            ``(B, U)`` layers, 1 (token index) for ``(B, T, D)``, 2 (h, w) for conv maps.
        kind: 'vector', 'token' or 'spatial'.
        spatial: the spatial shape of a conv layer's map, else ``()``.
    """

    values: Tensor
    samples: Tensor
    positions: Tensor
    kind: str
    spatial: tuple[int, ...] = ()

    @property
    def units(self) -> int:
        return int(self.values.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """As strict JSON (-inf as null).

        Example:
            >>> t = TopActivations(torch.tensor([[2.0, float("-inf")]]),
            ...                    torch.tensor([[3, -1]]), torch.zeros(1, 2, 0, dtype=torch.long),
            ...                    "vector")
            >>> t.to_dict()["values"]
            [[2.0, None]]
        """
        return {"kind": self.kind, "spatial": list(self.spatial), "units": self.units,
                "k": int(self.values.shape[1]), "values": json_list(self.values),
                "samples": json_list(self.samples), "positions": json_list(self.positions)}


class TopExamples:
    """Streaming top-``k`` activating samples per unit, per layer.

    Example:
        >>> top = TopExamples(k=2)
        >>> top.update("fc", torch.tensor([[1.0, 5.0], [3.0, 0.0]]), None, None, offset=0)
        >>> top.update("fc", torch.tensor([[2.0, 4.0]]), None, None, offset=2)
        >>> r = top.compute()["fc"]
        >>> r.samples.tolist(), r.values.tolist()
        ([[1, 2], [0, 2]], [[3.0, 2.0], [5.0, 4.0]])
    """

    def __init__(self, k: int = 9) -> None:
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k (examples per unit) must be a whole number >= 1, got {k!r}")
        self.k = k
        self._values: dict[str, Tensor] = {}
        self._samples: dict[str, Tensor] = {}
        self._positions: dict[str, Tensor] = {}
        self._kind: dict[str, tuple[str, tuple[int, ...]]] = {}

    def update(self, layer: str, x: Tensor, labels: Tensor | None = None,
               mask: Tensor | None = None, offset: int = 0) -> None:
        """Merge one batch of ``layer``'s output ``x``; its first sample has index ``offset``."""
        peak, where, kind, spatial = _peaks(x, mask)  # (B, U), (B, U, P)
        batch = peak.shape[0]
        ids = torch.arange(offset, offset + batch).unsqueeze(0).expand(peak.shape[1], batch)
        if layer not in self._values:
            units, p = peak.shape[1], where.shape[2]
            self._values[layer] = torch.full((units, 0), float("-inf"))
            self._samples[layer] = torch.zeros(units, 0, dtype=torch.int64)
            self._positions[layer] = torch.zeros(units, 0, p, dtype=torch.int64)
            self._kind[layer] = (kind, spatial)
        elif self._values[layer].shape[0] != peak.shape[1]:
            raise ValueError(f"layer {layer!r} had {self._values[layer].shape[0]} units and "
                             f"now has {peak.shape[1]}")
        values = torch.cat([self._values[layer], peak.T.cpu()], 1)  # (U, k' + B)
        samples = torch.cat([self._samples[layer], ids], 1)
        positions = torch.cat([self._positions[layer], where.transpose(0, 1).cpu()], 1)
        best, order = values.topk(min(self.k, values.shape[1]), dim=1)  # (U, k)
        self._values[layer] = best
        self._samples[layer] = samples.gather(1, order)
        self._positions[layer] = positions.gather(
            1, order.unsqueeze(-1).expand(-1, -1, positions.shape[2]))

    def compute(self) -> dict[str, TopActivations]:
        """The :class:`TopActivations` of every layer seen, padded to ``k`` columns."""
        out = {}
        for layer, values in self._values.items():
            units, have = values.shape
            pad = self.k - have
            positions = self._positions[layer]
            out[layer] = TopActivations(
                torch.cat([values, torch.full((units, pad), float("-inf"))], 1),
                torch.cat([self._samples[layer], torch.full((units, pad), -1)], 1),
                torch.cat([positions, torch.full((units, pad, positions.shape[2]), -1)], 1),
                *self._kind[layer])
        return out


def _peaks(x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor, str, tuple[int, ...]]:
    """Per sample and unit: the peak value and where it is; the layer kind and spatial shape."""
    if x.dim() == 2:
        return x, torch.zeros(*x.shape, 0, dtype=torch.int64), "vector", ()
    if x.dim() == 3:  # (B, T, D)
        if mask is not None and mask.shape == x.shape[:2]:
            x = x.masked_fill(~mask.to(x.device).unsqueeze(-1), float("-inf"))
        peak, where = x.max(1)  # (B, D)
        return peak, where.unsqueeze(-1), "token", ()
    if x.dim() == 4:  # (B, C, H, W)
        b, c, h, w = x.shape
        peak, flat = x.reshape(b, c, h * w).max(2)  # (B, C)
        where = torch.stack([flat // w, flat % w], -1)  # (B, C, 2)
        return peak, where, "spatial", (h, w)
    raise ValueError(f"top examples take (B, U), (B, T, D) or (B, C, H, W) outputs, got shape "
                     f"{tuple(x.shape)}")


def top_examples(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    layers: LayerSpec | Sequence[LayerSpec] | None = None,
    k: int = 9,
) -> dict[str, TopActivations]:
    """The ``k`` samples of ``batches`` that activate each unit of ``layers`` most.

    ``batches`` are tensors, dicts of keyword arguments (padding is left out through their
    ``attention_mask``) or ``(inputs, labels)`` pairs (labels unused). Sample indices count
    samples across batches, from 0.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Identity(), torch.nn.ReLU())
        >>> batches = [torch.tensor([[0.0, 1.0], [2.0, 0.5]]), torch.tensor([[3.0, 0.0]])]
        >>> top_examples(net, batches, k=1)["1"].samples.tolist()
        [[2], [0]]
    """
    state = TopExamples(k)
    run_observers(model, batches, [state], layers=layers, need_labels=False)
    return state.compute()


@dataclass(frozen=True)
class ReceptiveField:
    """Where the positions of a conv layer look in its input: ``top = o * jump + start``.

    Example:
        >>> rf = ReceptiveField(size=(5, 5), jump=(2, 2), start=(-1, -1))
        >>> rf.box((3, 0), (28, 28))  # (top, left, bottom, right), clipped, ends exclusive
        (5, 0, 10, 4)
    """

    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[int, int]

    def box(self, position: Sequence[int], image: Sequence[int]) -> tuple[int, int, int, int]:
        """The input box ``(top, left, bottom, right)`` of ``position``, clipped to ``image``."""
        top = int(position[0]) * self.jump[0] + self.start[0]
        left = int(position[1]) * self.jump[1] + self.start[1]
        return (max(top, 0), max(left, 0), min(top + self.size[0], int(image[0])),
                min(left + self.size[1], int(image[1])))

    def output_size(self, image: Sequence[int], chain: Sequence[nn.Module]) -> tuple[int, int]:
        """The map size the chain gives for an ``image`` of ``(H, W)`` (to check the chain)."""
        h, w = int(image[0]), int(image[1])
        for m in chain:
            (kh, kw), (sh, sw), (ph, pw), (dh, dw) = _geometry(m)
            h = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
            w = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        return h, w


SPATIAL_TYPES: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)
# Modules that change the map in ways a kernel/stride chain cannot express.
BREAKING_TYPES: tuple[type[nn.Module], ...] = (
    nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Upsample, nn.ConvTranspose2d, nn.Flatten,
    nn.Linear, nn.PixelShuffle, nn.Unfold, nn.Fold,
)


def _pair(v: Any) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, tuple | list) else (int(v), int(v))


def _geometry(m: nn.Module) -> tuple[tuple[int, int], ...]:
    """``(kernel, stride, padding, dilation)`` of a Conv2d / MaxPool2d / AvgPool2d."""
    kernel = _pair(m.kernel_size)
    stride = _pair(m.stride if m.stride is not None else m.kernel_size)
    dilation = _pair(getattr(m, "dilation", 1))
    padding: Any = m.padding
    if padding == "valid":
        padding = 0
    elif padding == "same":
        padding = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation, strict=True))
    if getattr(m, "ceil_mode", False):
        raise ValueError(f"{type(m).__name__} with ceil_mode=True is not supported")
    return kernel, stride, _pair(padding), dilation


def conv_chain(model: nn.Module, layer: str) -> list[nn.Module]:
    """The Conv2d/MaxPool2d/AvgPool2d modules before ``layer`` (included), in module order.

    Raises ValueError when a module that the chain cannot express (adaptive pooling, upsampling,
    a Linear) comes first.
    """
    on_input = layer.endswith(INPUT_SUFFIX)
    name = layer[: -len(INPUT_SUFFIX)] if on_input else layer.split("#")[0]
    if name not in dict(model.named_modules()):
        raise ValueError(f"layer {layer!r} is not a module of {type(model).__name__}")
    chain: list[nn.Module] = []
    for n, m in model.named_modules():
        if n == name and on_input:
            return chain
        if isinstance(m, SPATIAL_TYPES):
            chain.append(m)
        elif isinstance(m, BREAKING_TYPES) and len(list(m.children())) == 0:
            raise ValueError(f"{type(m).__name__} {n!r} comes before layer {layer!r}: its "
                             "receptive field is not a conv/pool chain; use "
                             "receptive_field_by_gradient")
        if n == name:
            return chain
    raise ValueError(f"layer {layer!r} is not a module of {type(model).__name__}")


def receptive_field(model: nn.Module, layer: str,
                    check: tuple[tuple[int, int], tuple[int, int]] | None = None
                    ) -> ReceptiveField:
    """The receptive field of a conv ``layer``'s positions, from its conv/pool chain.

    ``check=((H, W), (h, w))``: raise ValueError unless the chain turns an ``H x W`` input
    into the ``h x w`` map the layer actually has.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        ...                     nn.Conv2d(2, 2, 3, padding=1), nn.ReLU())
        >>> receptive_field(net, "4", check=((28, 28), (14, 14)))
        ReceptiveField(size=(8, 8), jump=(2, 2), start=(-3, -3))
    """
    chain = conv_chain(model, layer)
    size, jump, start = [1, 1], [1, 1], [0, 0]
    for m in chain:
        kernel, stride, padding, dilation = _geometry(m)
        for i in range(2):
            start[i] -= padding[i] * jump[i]
            size[i] += dilation[i] * (kernel[i] - 1) * jump[i]
            jump[i] *= stride[i]
    rf = ReceptiveField((size[0], size[1]), (jump[0], jump[1]), (start[0], start[1]))
    if check is not None:
        got = rf.output_size(check[0], chain)
        if got != tuple(check[1]):
            raise ValueError(
                f"the conv/pool chain before {layer!r} gives a {got[0]}x{got[1]} map for a "
                f"{check[0][0]}x{check[0][1]} input, but the layer's map is "
                f"{check[1][0]}x{check[1][1]}: the model does more than a plain chain; use "
                "receptive_field_by_gradient")
    return rf


def receptive_field_by_gradient(model: nn.Module, layer: str, inputs: Tensor,
                                position: Sequence[int]) -> tuple[int, int, int, int]:
    """The input box ``(top, left, bottom, right)`` that influences one position of ``layer``.

    Runs ``inputs`` (one sample, ``(1, C, H, W)``) with gradients, sums ``layer``'s channels at
    ``position`` and returns the bounding box of the input pixels whose gradient is nonzero.
    This is the effective field for this input: through ReLUs that are off or max-pools it can
    be smaller than the chain's.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.AvgPool2d(2))
        >>> receptive_field_by_gradient(net, "1", torch.randn(1, 1, 12, 12), (2, 3))
        (4, 6, 8, 10)
    """
    if inputs.dim() != 4 or inputs.shape[0] != 1:
        raise ValueError(f"inputs must be one sample (1, C, H, W), got {tuple(inputs.shape)}")
    targets = select_layers(model, [layer.split("#")[0]])
    outputs: list[Tensor] = []
    x = inputs.detach().clone().requires_grad_(True)
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        with torch.enable_grad(), hooked(model, targets, lambda _n, t: outputs.append(t)):
            model(x)
            if not outputs or outputs[0].dim() != 4:
                raise ValueError(f"layer {layer!r} gives no (B, C, H, W) map")
            h, w = int(position[0]), int(position[1])
            outputs[0][0, :, h, w].sum().backward()
    finally:
        for module, mode in modes.items():
            module.training = mode
    assert x.grad is not None
    hit = torch.nonzero(x.grad[0].abs().sum(0))  # (n, 2) rows, cols
    if hit.numel() == 0:
        raise ValueError(f"no input pixel has a gradient at {layer!r} position {tuple(position)}")
    return (int(hit[:, 0].min()), int(hit[:, 1].min()), int(hit[:, 0].max()) + 1,
            int(hit[:, 1].max()) + 1)
