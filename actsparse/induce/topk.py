"""Top-k activation with a straight-through gradient.

``TopK(k)`` keeps the ``k`` largest entries along a dimension (by value, or by magnitude with
``magnitude=True``) and zeros the rest. Its backward is the *identity* straight-through
estimator: ``dL/dx = dL/dy`` for every entry, kept or zeroed, as if the forward were the
identity. The zeroed entries therefore still learn, and can come back into the top k. (For a
gradient through the kept entries only, which is the true gradient of the forward, use
:class:`~actsparse.induce.kwinners.KWinners` with ``boost_strength=0``.)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from actsparse._hooks import register_activation


class _StraightThrough(torch.autograd.Function):
    """Forward: ``x`` where ``mask`` else 0. Backward: the gradient unchanged (identity STE)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, mask: Tensor) -> Tensor:
        return torch.where(mask, x, 0.0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return grad, None


def topk_mask(x: Tensor, k: int, dim: int = -1, magnitude: bool = False) -> Tensor:
    """Bool mask of the ``k`` largest entries of ``x`` (or of ``|x|``) along ``dim``.

    Example:
        >>> topk_mask(torch.tensor([1.0, -5.0, 3.0]), 1, magnitude=True)
        tensor([False,  True, False])
    """
    scores = x.detach().abs() if magnitude else x.detach()
    idx = scores.topk(k, dim=dim, sorted=False).indices
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(dim, idx, True)


class TopK(nn.Module):
    r"""Keep the ``k`` largest entries along ``dim``, zero the others; straight-through gradient.

    Args:
        k: how many entries to keep in each slice along ``dim`` (at least 1).
        dim: the dimension to select along (default: the last).
        magnitude: rank entries by ``|x|`` instead of ``x`` (negative entries can be kept).

    Shape:
        - Input: any shape with ``x.shape[dim] >= k``
        - Output: the same shape, ``k`` kept entries per slice.

    Examples:
        >>> top = TopK(2)
        >>> top
        TopK(k=2, dim=-1, magnitude=False)
        >>> x = torch.tensor([[0.5, -3.0, 2.0, 1.0]], requires_grad=True)
        >>> y = top(x)
        >>> y
        tensor([[0., 0., 2., 1.]], grad_fn=<_StraightThroughBackward>)
        >>> y.sum().backward()
        >>> x.grad  # identity straight-through: every entry gets the gradient
        tensor([[1., 1., 1., 1.]])
        >>> TopK(1, magnitude=True)(x.detach())
        tensor([[ 0., -3.,  0.,  0.]])
    """

    def __init__(self, k: int, dim: int = -1, magnitude: bool = False) -> None:
        super().__init__()
        if isinstance(k, bool) or not isinstance(k, int):
            raise TypeError(f"k must be an int, got {type(k).__name__}")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.k = k
        self.dim = dim
        self.magnitude = magnitude

    def forward(self, x: Tensor) -> Tensor:
        if not -x.dim() <= self.dim < max(x.dim(), 1):
            raise ValueError(
                f"TopK(dim={self.dim}) got an input of shape {tuple(x.shape)} with {x.dim()} "
                "dimensions"
            )
        size = x.shape[self.dim] if x.dim() > 0 else 1
        if self.k > size:
            raise ValueError(
                f"TopK(k={self.k}) cannot keep {self.k} entries of {size} along dim {self.dim} "
                f"(input shape {tuple(x.shape)})"
            )
        mask = topk_mask(x, self.k, self.dim, self.magnitude)
        out: Tensor = _StraightThrough.apply(x, mask)
        return out

    def extra_repr(self) -> str:
        return f"k={self.k}, dim={self.dim}, magnitude={self.magnitude}"


register_activation(TopK)
