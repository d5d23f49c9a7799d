"""The k-WTA selection kernel: its ctypes binding, the torch reference, and the custom
operators ``actsparse::kwinners`` / ``actsparse::kwinners_backward``.

``_kwinners_kernel.c`` (radix select on order-preserving integer keys, the output and the
per-unit win counts written in the same pass, OpenMP over samples) runs on contiguous float32
CPU tensors; elsewhere (GPU, other dtypes, no compiler, ``ACTSPARSE_NO_NATIVE=1``)
``torch.topk`` makes the mask. Both give the same winners, ties included (tested).

The operators make the selection traceable: ``torch.compile``, ``torch.export`` and
``torch.jit.trace`` see one node with a fake kernel (shapes and dtypes) and an autograd formula
(the gradient passes through the winners only), so k-WTA layers train and export compiled.
Eager calls go through a ``torch.autograd.Function`` instead (:func:`keep_winners`): the
operator's dispatch costs more (measured on 2 threads: 31 -> 39 us for a (1, 64, 14, 14) map
without grad, 33 -> 58 us with grad; 123 -> 161 us for (32, 1000) with grad).
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from actsparse._native import load_library
from actsparse._tracing import tracing

__all__ = ["keep_winners", "kwinners_kernel", "select_winners", "winners_mask"]

_SOURCE = Path(__file__).with_name("_kwinners_kernel.c")
_P, _I64 = ctypes.c_void_p, ctypes.c_int64
_ARGTYPES = [_P, _I64, _I64, _I64, _I64, _P, _I64, _P, _P, _P, _I64, ctypes.c_int32]
Layout = tuple[int, int, int]


def winners_mask(scores: Tensor, k: int, dim: int = -1) -> Tensor:
    """A bool mask with exactly ``k`` True entries along ``dim``: the ``k`` largest scores.

    Ties at the k-th value go to the lowest indices, and NaN counts as +inf, -0 as +0, as in
    the C kernel: both paths pick the same winners, also when fewer than ``k`` inputs are
    positive and the last winners are zeros.

    Example:
        >>> winners_mask(torch.tensor([[0.1, 3.0, -1.0, 2.0]]), 2)
        tensor([[False,  True, False,  True]])
        >>> winners_mask(torch.tensor([[0.0, 2.0, 0.0, 0.0]]), 3)  # ties: first zeros win
        tensor([[ True,  True,  True, False]])
    """
    scores = scores.nan_to_num(nan=float("inf"), posinf=float("inf")) + 0.0  # -0 -> +0
    kth = scores.topk(k, dim=dim, sorted=False).values.amin(dim, keepdim=True)
    above = scores > kth
    equal = scores == kth
    left = k - above.sum(dim, keepdim=True)  # how many of the equal ones win, by index
    return above | (equal & (equal.cumsum(dim) <= left))


def kwinners_kernel() -> ctypes.CDLL | None:
    """The compiled selection kernel, or ``None`` when native code is off or cannot be built.

    Example:
        >>> lib = kwinners_kernel()
        >>> lib is None or hasattr(lib, "actsparse_kwinners")
        True
    """
    return load_library("kwinners_kernel", _SOURCE, {
        "actsparse_kwinners": (_ARGTYPES, ctypes.c_int),
        "actsparse_kwinners_backward": ([_P, _P, _P, _I64, ctypes.c_int32], None),
    })


def select_winners(x: Tensor, k: int, layout: tuple[int, int, int], boost: Tensor | None,
                   div: int, n_wins: int, native: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """Winners of ``x`` viewed as ``(outer, n, inner)``: k per group of ``n`` (stride inner).

    A score is ``x[o, j, i] * boost[j // div]`` (``x`` alone when ``boost`` is None). Returns
    ``(out, mask, wins)``: ``x`` where it won and 0 elsewhere, the bool mask (shape of ``x``,
    exactly ``k`` per group), and float32 win counts per boost index ``j // div`` (``n_wins``
    of them). No autograd: the layers go through ``_KeepWinners``. Uses the C kernel on
    float32 CPU tensors when ``native``, else ``torch.topk`` (the reference: the same winners,
    ties to the lowest index in both).

    Example:
        >>> x = torch.tensor([[1.0, 5.0, 3.0, 2.0], [4.0, 0.0, 1.0, 9.0]])
        >>> out, mask, wins = select_winners(x, 2, (2, 4, 1), None, 1, 4)
        >>> out.tolist(), wins.tolist()
        ([[0.0, 5.0, 3.0, 0.0], [4.0, 0.0, 0.0, 9.0]], [1.0, 1.0, 1.0, 1.0])
    """
    outer, n, inner = layout
    x = x.detach()
    lib = kwinners_kernel() if native else None
    if (lib is not None and x.device.type == "cpu" and x.dtype == torch.float32
            and (boost is None or boost.dtype == torch.float32)):
        x = x.contiguous()
        out = torch.empty_like(x)
        mask = torch.empty(x.shape, dtype=torch.bool)
        wins = torch.zeros(n_wins, dtype=torch.int64)
        boost_c = boost.contiguous() if boost is not None else None
        status = lib.actsparse_kwinners(
            x.data_ptr(), outer, n, inner, k, boost_c.data_ptr() if boost_c is not None else None,
            div, mask.data_ptr(), out.data_ptr(), wins.data_ptr(), n_wins,
            torch.get_num_threads())
        if status == 0:
            return out, mask, wins.to(torch.float32)
    scores = x.reshape(outer, n, inner)
    if boost is not None:
        scores = scores * boost.repeat_interleave(div).view(1, n, 1)
    mask = winners_mask(scores, k, dim=1)  # (outer, n, inner)
    wins = mask.sum(dim=(0, 2), dtype=torch.float32).view(n_wins, div).sum(dim=1)
    mask = mask.view(x.shape)
    return torch.where(mask, x, 0.0), mask, wins


class _KeepWinners(torch.autograd.Function):
    """``select_winners`` with the gradient of the output passed through the winners only."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, k: int, layout: tuple[int, int, int],
                boost: Tensor | None, div: int, n_wins: int,
                native: bool) -> tuple[Tensor, Tensor]:
        out, mask, wins = select_winners(x, k, layout, boost, div, n_wins, native)
        ctx.mark_non_differentiable(wins)
        ctx.save_for_backward(mask)
        ctx.native = native
        return out, wins

    @staticmethod
    def backward(ctx: Any, grad: Tensor, _wins: Tensor) -> tuple[Tensor | None, ...]:
        (mask,) = ctx.saved_tensors
        return _pass_winners(grad, mask, ctx.native), None, None, None, None, None, None


def _pass_winners(grad: Tensor, mask: Tensor, native: bool) -> Tensor:
    """``grad`` where ``mask``, else 0: one vectorised C pass on CPU float32 (about 3x faster
    than ``torch.where`` on a bool mask), ``torch.where`` otherwise."""
    lib = kwinners_kernel() if native else None
    if lib is None or grad.device.type != "cpu" or grad.dtype != torch.float32:
        return torch.where(mask, grad, 0.0)
    grad = grad.contiguous()
    out = torch.empty_like(grad)
    lib.actsparse_kwinners_backward(grad.data_ptr(), mask.data_ptr(), out.data_ptr(),
                                    grad.numel(), torch.get_num_threads())
    return out


def keep_winners(x: Tensor, k: int, layout: Layout, boost: Tensor | None, div: int,
                 n_wins: int, native: bool = True) -> tuple[Tensor, Tensor]:
    """``(out, wins)`` of :func:`select_winners`, differentiable: the gradient of ``out``
    passes through the winners only. The custom operator when traced, else the autograd
    function.

    Example:
        >>> x = torch.tensor([[1.0, 5.0, 3.0, 2.0]], requires_grad=True)
        >>> out, wins = keep_winners(x, 2, (1, 4, 1), None, 1, 4)
        >>> out.sum().backward()
        >>> x.grad.tolist(), wins.tolist()
        ([[0.0, 1.0, 1.0, 0.0]], [0.0, 1.0, 1.0, 0.0])
    """
    if tracing(x):
        out, _, wins = kwinners(x, k, list(layout), boost, div, n_wins, native)
        return out, wins
    result: tuple[Tensor, Tensor] = _KeepWinners.apply(x, k, layout, boost, div, n_wins, native)
    return result


@torch.library.custom_op("actsparse::kwinners", mutates_args=())
def kwinners(x: Tensor, k: int, layout: Sequence[int], boost: Tensor | None, div: int,
             n_wins: int, native: bool) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`select_winners` as an operator: ``(out, mask, wins)``, all contiguous.

    Example:
        >>> out, mask, wins = torch.ops.actsparse.kwinners(
        ...     torch.tensor([[1.0, 5.0, 3.0, 2.0]]), 2, [1, 4, 1], None, 1, 4, True)
        >>> out.tolist(), mask.tolist()
        ([[0.0, 5.0, 3.0, 0.0]], [[False, True, True, False]])
    """
    outer, n, inner = (int(v) for v in layout)
    out, mask, wins = select_winners(x, k, (outer, n, inner), boost, div, n_wins, native)
    return out.contiguous(), mask.contiguous(), wins


@kwinners.register_fake
def _(x: Tensor, k: int, layout: Sequence[int], boost: Tensor | None, div: int, n_wins: int,
      native: bool) -> tuple[Tensor, Tensor, Tensor]:
    if len(layout) != 3 or not 1 <= k <= layout[1]:
        raise ValueError(f"actsparse::kwinners: needs layout (outer, n, inner) and 1 <= k <= n,"
                         f" got layout {list(layout)} and k = {k}")
    return (x.new_empty(x.shape), x.new_empty(x.shape, dtype=torch.bool),
            x.new_empty((n_wins,), dtype=torch.float32))


@torch.library.custom_op("actsparse::kwinners_backward", mutates_args=())
def kwinners_backward(grad: Tensor, mask: Tensor, native: bool) -> Tensor:
    """``grad`` where ``mask``, else 0 (contiguous): the gradient of ``actsparse::kwinners``.

    Example:
        >>> torch.ops.actsparse.kwinners_backward(torch.ones(3), torch.tensor([True, False,
        ...                                       True]), True).tolist()
        [1.0, 0.0, 1.0]
    """
    return _pass_winners(grad, mask, native).contiguous()


@kwinners_backward.register_fake
def _(grad: Tensor, mask: Tensor, native: bool) -> Tensor:
    return grad.new_empty(grad.shape)


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
    _, mask, wins = output
    ctx.mark_non_differentiable(mask, wins)
    ctx.save_for_backward(mask)
    ctx.native = inputs[-1]


def _backward(ctx: Any, grad: Tensor, _mask: Tensor, _wins: Tensor) -> tuple[Tensor | None, ...]:
    (mask,) = ctx.saved_tensors
    return kwinners_backward(grad, mask, ctx.native), None, None, None, None, None, None


kwinners.register_autograd(_backward, setup_context=_setup_context)
