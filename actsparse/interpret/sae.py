"""A TopK sparse autoencoder (Gao et al. 2024, "Scaling and evaluating sparse autoencoders").

For an activation vector ``x`` (width ``d_in``), scaled by a fixed ``input_scale``::

    z     = ReLU(TopK(W_enc (s*x - b_pre) + b_enc))        # k nonzero latents of n_latents
    x_hat = (W_dec^T z + b_pre) / s                         # back in the model's units

Training loss, in the scaled space: ``mse + aux_coef * aux``, where ``mse`` is the mean squared
error per element and ``aux`` (AuxK) asks the ``k_aux`` most active *dead* latents (those that
have not fired for a while; the trainer passes the mask) to model the residual
``e = s*x - s*x_hat``: ``aux = ||e - W_dec^T z_aux||^2 / ||e||^2`` (0 when nothing is dead). It
gives dead latents a gradient, which revives them.

Decoder rows (one ``d_in`` direction per latent) have unit norm: the trainer removes the
gradient component parallel to each row before a step (:meth:`remove_parallel_grads_`) and
renormalises after it (:meth:`normalize_decoder_`). The encoder starts as the decoder's
transpose scaled by ``encoder_init`` (0.1: pre-activations, and so the first reconstructions,
start small, which lets a short training converge further than a tied encoder at full scale),
and ``b_pre`` at the data's geometric median (set by the trainer).

Only ``k`` (and ``k_aux``) latents per row carry a gradient, so the backward pass is sparse:
the encoder's weight gradient is a sparse-dense product and the decoder is an ``embedding_bag``.
The one dense product is the forward ``(B, d_in) @ (d_in, n_latents)`` that TopK needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class SAEOutput:
    """What :meth:`SparseAutoencoder.forward` returns.

    Attributes:
        reconstruction: ``(B, d_in)`` in the model's units.
        values: ``(B, k)`` the kept latent activations (after ReLU; may hold zeros).
        indices: ``(B, k)`` int64, which latents they are.
        loss: ``mse + aux_coef * aux``, the scalar to minimise.
        mse: mean squared error per element, in the scaled space.
        aux: the AuxK loss (0 when no latent is dead).
    """

    reconstruction: Tensor
    values: Tensor
    indices: Tensor
    loss: Tensor
    mse: Tensor
    aux: Tensor

    def codes(self, n_latents: int) -> Tensor:
        """The dense ``(B, n_latents)`` codes."""
        dense = self.values.new_zeros(self.values.shape[0], n_latents)
        return dense.scatter_(1, self.indices, self.values)


class SparseAutoencoder(nn.Module):
    """A TopK sparse autoencoder with AuxK dead-latent revival and unit-norm decoder rows.

    Args:
        d_in: width of the activation vectors.
        n_latents: number of latents (dictionary size).
        k: latents kept per vector (L0 is at most ``k``).
        k_aux: dead latents used by the AuxK loss (default ``d_in // 2``, as Gao et al.).
        aux_coef: weight of the AuxK loss (default 1/32, as Gao et al.).
        seed: seed of the random unit-norm decoder.
        encoder_init: the encoder starts as the decoder's transpose times this.

    Shape:
        - Input: ``(B, d_in)`` (or ``(..., d_in)``; leading dims are flattened then restored).
        - Output: :class:`SAEOutput`; ``reconstruction`` has the input's shape.

    Example:
        >>> sae = SparseAutoencoder(8, 32, k=4)
        >>> out = sae(torch.randn(5, 8))
        >>> out.reconstruction.shape, out.indices.shape, out.loss.shape
        (torch.Size([5, 8]), torch.Size([5, 4]), torch.Size([]))
        >>> sae
        SparseAutoencoder(d_in=8, n_latents=32, k=4, k_aux=4, aux_coef=0.03125)
    """

    input_scale: Tensor

    def __init__(self, d_in: int, n_latents: int, k: int, *, k_aux: int | None = None,
                 aux_coef: float = 1 / 32, seed: int = 0, encoder_init: float = 0.1) -> None:
        super().__init__()
        _check_sizes(d_in, n_latents, k, k_aux, aux_coef)
        if not encoder_init > 0:
            raise ValueError(f"encoder_init must be positive, got {encoder_init!r}")
        self.d_in, self.n_latents, self.k = int(d_in), int(n_latents), int(k)
        self.k_aux = int(k_aux) if k_aux is not None else max(1, d_in // 2)
        self.aux_coef = float(aux_coef)
        gen = torch.Generator().manual_seed(seed)
        w_dec = F.normalize(torch.randn(n_latents, d_in, generator=gen), dim=1)
        self.w_dec = nn.Parameter(w_dec)  # (n_latents, d_in), unit rows
        self.w_enc = nn.Parameter(w_dec * encoder_init)  # (n_latents, d_in): tied, scaled
        self.b_enc = nn.Parameter(torch.zeros(n_latents))
        self.b_pre = nn.Parameter(torch.zeros(d_in))
        self.register_buffer("input_scale", torch.tensor(1.0))

    def extra_repr(self) -> str:
        return (f"d_in={self.d_in}, n_latents={self.n_latents}, k={self.k}, "
                f"k_aux={self.k_aux}, aux_coef={self.aux_coef:g}")

    def config(self) -> dict[str, Any]:
        """The constructor arguments, for saving (the seed is not needed to load)."""
        return {"d_in": self.d_in, "n_latents": self.n_latents, "k": self.k,
                "k_aux": self.k_aux, "aux_coef": self.aux_coef}

    def pre_activations(self, x: Tensor) -> Tensor:
        """``W_enc (s*x - b_pre) + b_enc`` for ``x`` ``(B, d_in)``: ``(B, n_latents)``."""
        x = self._check(x)
        centred = x * self.input_scale - self.b_pre
        return torch.addmm(self.b_enc, centred, self.w_enc.t())

    def encode_topk(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(values, indices)``, each ``(B, k)``: the kept latents of ``x`` ``(B, d_in)``."""
        values, indices, _, _ = self._encode(self._check(x).reshape(-1, self.d_in))
        return values, indices

    def encode(self, x: Tensor) -> Tensor:
        """Dense codes ``(..., n_latents)`` with at most ``k`` nonzeros per vector.

        Example:
            >>> sae = SparseAutoencoder(4, 16, k=2)
            >>> (sae.encode(torch.randn(3, 4)) != 0).sum(-1).le(2).all().item()
            True
        """
        flat = self._check(x).reshape(-1, self.d_in)
        values, indices, _, _ = self._encode(flat)
        dense = values.new_zeros(flat.shape[0], self.n_latents).scatter_(1, indices, values)
        return dense.reshape(*x.shape[:-1], self.n_latents)

    def decode(self, codes: Tensor) -> Tensor:
        """Dense codes ``(..., n_latents)`` back to activations ``(..., d_in)``.

        Example:
            >>> sae = SparseAutoencoder(4, 16, k=2)
            >>> x = torch.randn(3, 4)
            >>> torch.allclose(sae.decode(sae.encode(x)), sae(x).reconstruction, atol=1e-6)
            True
        """
        if codes.shape[-1] != self.n_latents:
            raise ValueError(f"codes must have {self.n_latents} latents in the last dim, got "
                             f"shape {tuple(codes.shape)}")
        return (codes @ self.w_dec + self.b_pre) / self.input_scale

    def decode_topk(self, values: Tensor, indices: Tensor) -> Tensor:
        """``(B, k)`` values at ``indices`` back to activations ``(B, d_in)``."""
        return (_sparse_decode(values, indices, self.w_dec) + self.b_pre) / self.input_scale

    def forward(self, x: Tensor, dead: Tensor | None = None) -> SAEOutput:
        """Reconstruct ``x`` and compute the losses; ``dead`` is a ``(n_latents,)`` bool mask."""
        x = self._check(x)
        shape = x.shape
        flat = x.reshape(-1, self.d_in)
        values, indices, pre, centred = self._encode(flat)
        scaled_hat = _sparse_decode(values, indices, self.w_dec) + self.b_pre  # (B, d_in)
        target = flat * self.input_scale
        mse = (scaled_hat - target).pow(2).mean()
        aux = self._aux_loss(pre, centred, (target - scaled_hat).detach(), dead)
        reconstruction = (scaled_hat / self.input_scale).reshape(shape)
        return SAEOutput(reconstruction, values, indices, mse + self.aux_coef * aux, mse, aux)

    @torch.no_grad()
    def normalize_decoder_(self) -> None:
        """Scale every decoder row to unit norm (in place)."""
        self.w_dec.div_(self.w_dec.norm(dim=1, keepdim=True).clamp_min(1e-12))

    @torch.no_grad()
    def remove_parallel_grads_(self) -> None:
        """Drop the part of each decoder row's gradient along the row (keeps norms at 1)."""
        grad = self.w_dec.grad
        if grad is None:
            return
        along = (grad * self.w_dec).sum(dim=1, keepdim=True)  # (n_latents, 1)
        grad.sub_(along * self.w_dec)

    def _check(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise TypeError("the input must be a floating-point tensor of activation vectors")
        if x.dim() < 1 or x.shape[-1] != self.d_in:
            raise ValueError(f"the input has width {x.shape[-1] if x.dim() else 0} (shape "
                             f"{tuple(x.shape)}) but this sparse autoencoder takes vectors of "
                             f"width d_in={self.d_in}: use activations of the layer it was "
                             "trained on")
        return x

    def _encode(self, flat: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        centred = flat * self.input_scale - self.b_pre  # (B, d_in)
        with torch.no_grad():
            pre = torch.addmm(self.b_enc, centred, self.w_enc.t())  # (B, n_latents)
            top, indices = pre.topk(self.k, dim=1, sorted=False)  # (B, k)
        values = F.relu(_rows_at(centred, self.w_enc, self.b_enc, indices, top))
        return values, indices, pre, centred

    def _aux_loss(self, pre: Tensor, centred: Tensor, residual: Tensor,
                  dead: Tensor | None) -> Tensor:
        zero = pre.new_zeros(())
        if dead is None or not bool(dead.any()):
            return zero
        if dead.shape != (self.n_latents,):
            raise ValueError(f"dead must be a bool mask of shape ({self.n_latents},), got "
                             f"{tuple(dead.shape)}")
        k_aux = min(self.k_aux, int(dead.sum()))
        with torch.no_grad():
            masked = pre.masked_fill(~dead.to(pre.device), float("-inf"))
            top, indices = masked.topk(k_aux, dim=1, sorted=False)  # (B, k_aux)
        values = F.relu(_rows_at(centred, self.w_enc, self.b_enc, indices, top))
        estimate = _sparse_decode(values, indices, self.w_dec)
        total = residual.pow(2).sum()
        if float(total) == 0.0:
            return zero
        return (estimate - residual).pow(2).sum() / total


def _check_sizes(d_in: int, n_latents: int, k: int, k_aux: int | None, aux_coef: float) -> None:
    for name, value in (("d_in", d_in), ("n_latents", n_latents), ("k", k)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if k > n_latents:
        raise ValueError(f"k={k} is larger than the number of latents n_latents={n_latents}: "
                         "k must be between 1 and n_latents")
    if k_aux is not None and (not isinstance(k_aux, int) or k_aux < 1):
        raise ValueError(f"k_aux must be a positive integer or None, got {k_aux!r}")
    if not aux_coef >= 0:
        raise ValueError(f"aux_coef must be >= 0, got {aux_coef!r}")


def _sparse_decode(values: Tensor, indices: Tensor, w_dec: Tensor) -> Tensor:
    """``sum_j values[b, j] * w_dec[indices[b, j]]``: ``(B, d_in)``, gradients to both."""
    return F.embedding_bag(indices, w_dec, per_sample_weights=values, mode="sum")


def _rows_at(x: Tensor, weight: Tensor, bias: Tensor, indices: Tensor, values: Tensor) -> Tensor:
    """``x[b] . weight[i] + bias[i]`` at ``i = indices[b, j]``, given those ``values``.

    The forward just returns ``values`` (already computed by the dense product); the backward
    touches only the selected rows, so it costs ``B * k * d_in`` instead of a dense product.
    """
    out: Tensor = _RowsAt.apply(x, weight, bias, indices, values)
    return out


class _RowsAt(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor, indices: Tensor,
                values: Tensor) -> Tensor:
        ctx.save_for_backward(x, weight, indices)
        ctx.n_bias = bias.shape[0]
        return values.clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, weight, indices = ctx.saved_tensors
        rows, k = indices.shape
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = F.embedding_bag(indices, weight, per_sample_weights=grad, mode="sum")
        flat_idx, flat_grad = indices.reshape(-1), grad.reshape(-1)
        if ctx.needs_input_grad[1]:
            which = torch.arange(rows, device=x.device).repeat_interleave(k)
            sparse = torch.sparse_coo_tensor(torch.stack([flat_idx, which]), flat_grad,
                                             (weight.shape[0], rows), check_invariants=False)
            grad_w = torch.sparse.mm(sparse, x)  # (n_latents, d_in), duplicates summed
        if ctx.needs_input_grad[2]:
            grad_b = grad.new_zeros(ctx.n_bias).index_add_(0, flat_idx, flat_grad)
        return grad_x, grad_w, grad_b, None, None
