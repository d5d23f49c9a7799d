"""Receptive fields of conv positions: the input patch that drove a unit of a conv map.

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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from actsparse._hooks import evaluating, hooked, parse_layer_name, select_layers


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
    parsed = parse_layer_name(layer)
    on_input, name = parsed.on_input, parsed.module
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
    targets = select_layers(model, [parse_layer_name(layer).key])
    outputs: list[Tensor] = []
    x = inputs.detach().clone().requires_grad_(True)
    with evaluating(model), torch.enable_grad(), \
            hooked(model, targets, lambda _n, t: outputs.append(t)):
        model(x)
        if not outputs or outputs[0].dim() != 4:
            raise ValueError(f"layer {layer!r} gives no (B, C, H, W) map")
        h, w = int(position[0]), int(position[1])
        outputs[0][0, :, h, w].sum().backward()
    assert x.grad is not None
    hit = torch.nonzero(x.grad[0].abs().sum(0))  # (n, 2) rows, cols
    if hit.numel() == 0:
        raise ValueError(f"no input pixel has a gradient at {layer!r} position {tuple(position)}")
    return (int(hit[:, 0].min()), int(hit[:, 1].min()), int(hit[:, 0].max()) + 1,
            int(hit[:, 1].max()) + 1)
