"""A sparse autoencoder (TopK by default; BatchTopK, JumpReLU, Matryoshka) or transcoder.

For an activation vector ``x`` (width ``d_in``), scaled by a fixed ``input_scale``::

    z     = ReLU(TopK(W_enc (s*x - b_pre) + b_enc))        # k nonzero latents of n_latents
    x_hat = (W_dec^T z + b_pre) / s                         # back in the model's units

Training loss, in the scaled space: ``mse + aux_coef * aux``, where ``mse`` is the mean squared
error per element and ``aux`` (AuxK) asks the ``k_aux`` most active *dead* latents (those that
have not fired for a while; the trainer passes the mask) to model the residual
``e = s*x - s*x_hat``: ``aux = ||e - W_dec^T z_aux||^2 / ||e||^2`` (0 when nothing is dead). It
gives dead latents a gradient, which revives them.

``architecture`` swaps TopK for another way of choosing the active latents (see
:mod:`~actsparse.interpret.sae_sparsity`):

- ``"batchtopk"``: the ``k * B`` largest over the batch in training (mean L0 exactly ``k``);
  at inference one global threshold: a running average of the batches' smallest kept value,
  which the trainer finally sets so that a sample of the training vectors has mean L0 ``k``;
- ``"jumprelu"``: ``z = pre * H(pre - theta)``, a learned threshold per latent, trained by
  straight-through estimates with the loss ``mse + l0_coef * L0 + aux_coef * aux``; the
  trainer starts each threshold where its latent fires on ``k / n_latents`` of a sample;
- ``"matryoshka"``: BatchTopK, with the loss summed over the reconstructions of nested
  prefixes of the dictionary (latents ``[0, m)`` for each ``m`` in ``prefixes``), so the
  first latents learn the coarse features alone.

A *transcoder* (``d_out`` given) predicts another vector ``y`` (e.g. a layer's output from its
input): the encoder centres ``s*x`` by its own ``b_in``, and ``b_pre`` and the decoder live in
``y``'s space, scaled by ``output_scale``; the losses compare with ``y``.

Decoder rows (one ``d_in`` direction per latent) have unit norm: the trainer removes the
gradient component parallel to each row before a step (:meth:`remove_parallel_grads_`) and
renormalises after it (:meth:`normalize_decoder_`). The encoder starts as the decoder's
transpose scaled by ``encoder_init`` (0.1: pre-activations, and so the first reconstructions,
start small, which lets a short training converge further than a tied encoder at full scale),
and ``b_pre`` at the data's geometric median (set by the trainer).

Only ``k`` (and ``k_aux``) latents per row carry a gradient, so the backward pass is sparse:
the encoder's weight gradient is a sparse-dense product and the decoder is an ``embedding_bag``.
The one dense product is the forward ``(B, d_in) @ (d_in, n_latents)`` that TopK needs.
JumpReLU is dense: its thresholds learn from latents just below them too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from actsparse.interpret.sae_sparsity import (
    JumpReLU,
    Step,
    above,
    batch_topk,
    check_architecture,
    row_topk,
)


@dataclass
class SAEOutput:
    """What :meth:`SparseAutoencoder.forward` returns.

    Attributes:
        reconstruction: ``(B, d_in)`` (``(B, d_out)`` for a transcoder) in the model's units.
        values: ``(B, m)`` the kept latent activations (after ReLU; may hold zeros: with
            BatchTopK and JumpReLU rows keep different numbers, padded with zeros).
        indices: ``(B, m)`` int64, which latents they are.
        loss: the scalar to minimise (see the module doc per architecture).
        mse: mean squared error per element, in the scaled space.
        aux: the AuxK loss (0 when no latent is dead).
        l0: mean number of active latents per row (JumpReLU: differentiable in the thresholds).
    """

    reconstruction: Tensor
    values: Tensor
    indices: Tensor
    loss: Tensor
    mse: Tensor
    aux: Tensor
    l0: Tensor

    def codes(self, n_latents: int) -> Tensor:
        """The dense ``(B, n_latents)`` codes."""
        dense = self.values.new_zeros(self.values.shape[0], n_latents)
        return dense.scatter_(1, self.indices, self.values)


class _Encoded(NamedTuple):
    values: Tensor  # (B, m) after ReLU, zeros in padding
    indices: Tensor  # (B, m)
    pre: Tensor  # (B, n_latents), no gradient
    centred: Tensor  # (B, d_in)
    dense: Tensor | None  # (B, n_latents) codes with gradient (JumpReLU), else None
    l0: Tensor  # mean active latents per row


class SparseAutoencoder(nn.Module):
    """A sparse autoencoder (or transcoder) with AuxK dead-latent revival, unit decoder rows.

    Args:
        d_in: width of the activation vectors.
        n_latents: number of latents (dictionary size).
        k: latents kept per vector (TopK: at most ``k``; BatchTopK and Matryoshka: ``k`` on
            average over a training batch; JumpReLU: where the thresholds start).
        k_aux: dead latents used by the AuxK loss (default ``d_in // 2``, as Gao et al.).
        aux_coef: weight of the AuxK loss (default 1/32, as Gao et al.).
        seed: seed of the random unit-norm decoder.
        encoder_init: the encoder starts as the decoder's transpose times this.
        architecture: ``"topk"``, ``"batchtopk"``, ``"jumprelu"`` or ``"matryoshka"``.
        d_out: the width of the predicted vectors for a transcoder (None: an autoencoder).
        prefixes: Matryoshka prefix sizes, increasing, the last ``n_latents`` (default
            ``n/8, n/4, n/2, n``).
        l0_coef: JumpReLU's weight of the mean L0 in the loss.
        bandwidth: JumpReLU's kernel width for the threshold gradients (scaled space).

    Shape:
        - Input: ``(B, d_in)`` (or ``(..., d_in)``; leading dims are flattened then restored).
        - Output: :class:`SAEOutput`; ``reconstruction`` has the input's shape (last dim
          ``d_out`` for a transcoder).

    Example:
        >>> sae = SparseAutoencoder(8, 32, k=4)
        >>> out = sae(torch.randn(5, 8))
        >>> out.reconstruction.shape, out.indices.shape, out.loss.shape
        (torch.Size([5, 8]), torch.Size([5, 4]), torch.Size([]))
        >>> sae
        SparseAutoencoder(d_in=8, n_latents=32, k=4, k_aux=4, aux_coef=0.03125)
        >>> SparseAutoencoder(8, 32, k=4, architecture="jumprelu", d_out=6)
        SparseAutoencoder(d_in=8, n_latents=32, k=4, k_aux=4, aux_coef=0.03125, \
architecture='jumprelu', d_out=6, l0_coef=0.001, bandwidth=0.05)
    """

    input_scale: Tensor
    output_scale: Tensor  # transcoders only
    threshold: Tensor  # BatchTopK and Matryoshka only

    def __init__(self, d_in: int, n_latents: int, k: int, *, k_aux: int | None = None,
                 aux_coef: float = 1 / 32, seed: int = 0, encoder_init: float = 0.1,
                 architecture: str = "topk", d_out: int | None = None,
                 prefixes: Sequence[int] | None = None, l0_coef: float = 1e-3,
                 bandwidth: float = 0.05) -> None:
        super().__init__()
        _check_sizes(d_in, n_latents, k, k_aux, aux_coef)
        if not encoder_init > 0:
            raise ValueError(f"encoder_init must be positive, got {encoder_init!r}")
        if d_out is not None:
            _check_sizes(d_out, n_latents, k, k_aux, aux_coef, name="d_out")
        self.prefixes = check_architecture(architecture, n_latents, prefixes, l0_coef,
                                           bandwidth)
        self.d_in, self.n_latents, self.k = int(d_in), int(n_latents), int(k)
        self.k_aux = int(k_aux) if k_aux is not None else max(1, d_in // 2)
        self.aux_coef = float(aux_coef)
        self.architecture, self.d_out = architecture, d_out
        self.l0_coef, self.bandwidth = float(l0_coef), float(bandwidth)
        width = d_out if d_out is not None else d_in
        gen = torch.Generator().manual_seed(seed)
        w_dec = F.normalize(torch.randn(n_latents, width, generator=gen), dim=1)
        self.w_dec = nn.Parameter(w_dec)  # (n_latents, width), unit rows
        tied = w_dec if d_out is None else F.normalize(torch.randn(n_latents, d_in,
                                                                   generator=gen), dim=1)
        self.w_enc = nn.Parameter(tied * encoder_init)  # (n_latents, d_in): tied, scaled
        self.b_enc = nn.Parameter(torch.zeros(n_latents))
        self.b_pre = nn.Parameter(torch.zeros(width))
        self.register_buffer("input_scale", torch.tensor(1.0))
        if d_out is not None:
            self.b_in = nn.Parameter(torch.zeros(d_in))
            self.register_buffer("output_scale", torch.tensor(1.0))
        if architecture in ("batchtopk", "matryoshka"):
            self.register_buffer("threshold", torch.tensor(float("nan")))
        if architecture == "jumprelu":
            self.log_threshold = nn.Parameter(torch.full((n_latents,), math.log(0.01)))
        self._pick = {"topk": self._pick_topk, "batchtopk": self._pick_batch,
                      "matryoshka": self._pick_batch, "jumprelu": self._pick_jump}[architecture]

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value!r}" if isinstance(value, str) else f"{key}={value:g}"
                         if isinstance(value, float) else f"{key}={value}"
                         for key, value in self.config().items())

    def config(self) -> dict[str, Any]:
        """The constructor arguments, for saving (the seed is not needed to load)."""
        out: dict[str, Any] = {"d_in": self.d_in, "n_latents": self.n_latents, "k": self.k,
                               "k_aux": self.k_aux, "aux_coef": self.aux_coef}
        if self.architecture != "topk":
            out["architecture"] = self.architecture
        if self.d_out is not None:
            out["d_out"] = self.d_out
        if self.prefixes is not None:
            out["prefixes"] = list(self.prefixes)
        if self.architecture == "jumprelu":
            out.update(l0_coef=self.l0_coef, bandwidth=self.bandwidth)
        return out

    @property
    def out_scale(self) -> Tensor:
        """The factor of the reconstructed vectors (``output_scale`` for a transcoder)."""
        scale: Tensor = self.output_scale if self.d_out is not None else self.input_scale
        return scale

    @property
    def b_centre(self) -> Tensor:
        """What the scaled input is centred by: ``b_in`` for a transcoder, else ``b_pre``."""
        bias: Tensor = self.b_in if self.d_out is not None else self.b_pre
        return bias

    def pre_activations(self, x: Tensor) -> Tensor:
        """``W_enc (s*x - b_pre) + b_enc`` for ``x`` ``(B, d_in)``: ``(B, n_latents)``."""
        x = self._check(x)
        centred = x * self.input_scale - self.b_centre
        return torch.addmm(self.b_enc, centred, self.w_enc.t())

    def encode_topk(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(values, indices)``, each ``(B, m)``: the kept latents of ``x`` ``(B, d_in)``."""
        enc = self._encode(self._check(x).reshape(-1, self.d_in))
        return enc.values, enc.indices

    def encode(self, x: Tensor) -> Tensor:
        """Dense codes ``(..., n_latents)`` (at most ``k`` nonzeros per vector for TopK).

        Example:
            >>> sae = SparseAutoencoder(4, 16, k=2)
            >>> (sae.encode(torch.randn(3, 4)) != 0).sum(-1).le(2).all().item()
            True
        """
        flat = self._check(x).reshape(-1, self.d_in)
        enc = self._encode(flat)
        dense = enc.values.new_zeros(flat.shape[0], self.n_latents)
        dense.scatter_(1, enc.indices, enc.values)
        return dense.reshape(*x.shape[:-1], self.n_latents)

    def decode(self, codes: Tensor) -> Tensor:
        """Dense codes ``(..., n_latents)`` back to activations ``(..., d_in)`` (or ``d_out``).

        Example:
            >>> sae = SparseAutoencoder(4, 16, k=2)
            >>> x = torch.randn(3, 4)
            >>> torch.allclose(sae.decode(sae.encode(x)), sae(x).reconstruction, atol=1e-6)
            True
        """
        if codes.shape[-1] != self.n_latents:
            raise ValueError(f"codes must have {self.n_latents} latents in the last dim, got "
                             f"shape {tuple(codes.shape)}")
        return (codes @ self.w_dec + self.b_pre) / self.out_scale

    def decode_topk(self, values: Tensor, indices: Tensor) -> Tensor:
        """``(B, m)`` values at ``indices`` back to activations ``(B, d_in)`` (or ``d_out``)."""
        return (_sparse_decode(values, indices, self.w_dec) + self.b_pre) / self.out_scale

    def forward(self, x: Tensor, dead: Tensor | None = None,
                target: Tensor | None = None) -> SAEOutput:
        """Reconstruct ``x`` and compute the losses; ``dead`` is a ``(n_latents,)`` bool mask.

        A transcoder needs the ``target`` ``(..., d_out)`` it predicts; an autoencoder none.
        """
        x = self._check(x)
        flat = x.reshape(-1, self.d_in)
        goal = self._goal(flat, x.shape, target)  # (B, width), scaled
        enc = self._encode(flat)
        decoded = enc.dense @ self.w_dec if enc.dense is not None else \
            _sparse_decode(enc.values, enc.indices, self.w_dec)
        scaled_hat = decoded + self.b_pre  # (B, width)
        mse = (scaled_hat - goal).pow(2).mean()
        loss = mse + self._prefix_mse(enc, goal)
        if self.architecture == "jumprelu":
            loss = loss + self.l0_coef * enc.l0
        aux = self._aux_loss(enc.pre, enc.centred, (goal - scaled_hat).detach(), dead)
        reconstruction = (scaled_hat / self.out_scale).reshape(*x.shape[:-1], -1)
        return SAEOutput(reconstruction, enc.values, enc.indices, loss + self.aux_coef * aux,
                         mse, aux, enc.l0)

    @torch.no_grad()
    def init_thresholds_(self, x: Tensor) -> None:
        """JumpReLU: start each threshold where its latent fires on ``k / n_latents`` of ``x``."""
        if self.architecture != "jumprelu":
            raise ValueError(f"init_thresholds_ is for architecture='jumprelu', this one is "
                             f"{self.architecture!r}")
        pre = self.pre_activations(self._check(x).reshape(-1, self.d_in).float())  # (S, n)
        rank = pre.shape[0] - max(1, round(pre.shape[0] * self.k / self.n_latents))
        theta = pre.kthvalue(max(1, rank), dim=0).values.clamp_min(1e-3)
        self.log_threshold.copy_(theta.log())

    @torch.no_grad()
    def calibrate_threshold_(self, x: Tensor) -> None:
        """BatchTopK and Matryoshka: set the global threshold so that ``x`` has mean L0 ``k``.

        It is the ``k * S``-th largest pre-activation over the ``S`` vectors of ``x`` (the
        trainer passes a sample of the training vectors once training ends); the running
        average kept during training lags behind the last steps.
        """
        if self.architecture not in ("batchtopk", "matryoshka"):
            raise ValueError(f"calibrate_threshold_ is for architecture='batchtopk' or "
                             f"'matryoshka', this one is {self.architecture!r}")
        flat = self.pre_activations(self._check(x).reshape(-1, self.d_in).float()).reshape(-1)
        kth = flat.topk(min(self.k * x.reshape(-1, self.d_in).shape[0], flat.numel())).values
        positive = kth[kth > 0]
        if positive.numel():
            self.threshold.copy_(positive[-1])

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

    def _goal(self, flat: Tensor, shape: torch.Size, target: Tensor | None) -> Tensor:
        """The scaled vectors to reconstruct: ``x`` itself, or a transcoder's target."""
        if self.d_out is None:
            if target is not None:
                raise ValueError("target is for transcoders (built with d_out=...); an "
                                 "autoencoder reconstructs its input")
            return flat * self.input_scale
        if target is None:
            raise ValueError(f"this transcoder predicts vectors of width d_out={self.d_out}: "
                             "pass them as target=")
        if target.shape != (*shape[:-1], self.d_out):
            raise ValueError(f"target has shape {tuple(target.shape)}; for inputs of shape "
                             f"{tuple(shape)} it must be {(*shape[:-1], self.d_out)}")
        return target.reshape(-1, self.d_out) * self.out_scale

    def _encode(self, flat: Tensor) -> _Encoded:
        centred = flat * self.input_scale - self.b_centre  # (B, d_in)
        return self._pick(centred)

    def _sparse_codes(self, centred: Tensor, pre: Tensor, top: Tensor,
                      indices: Tensor) -> _Encoded:
        values = F.relu(_rows_at(centred, self.w_enc, self.b_enc, indices, top))
        l0 = (values.detach() > 0).sum(1).float().mean()
        return _Encoded(values, indices, pre, centred, None, l0)

    def _pick_topk(self, centred: Tensor) -> _Encoded:
        with torch.no_grad():
            pre = torch.addmm(self.b_enc, centred, self.w_enc.t())  # (B, n_latents)
            top, indices = row_topk(pre, self.k)  # (B, k)
        return self._sparse_codes(centred, pre, top, indices)

    def _pick_batch(self, centred: Tensor) -> _Encoded:
        with torch.no_grad():
            pre = torch.addmm(self.b_enc, centred, self.w_enc.t())  # (B, n_latents)
            if self.training or not bool(self.threshold.isfinite()):
                top, indices, low = batch_topk(pre, self.k)  # (B, m), m varies per batch
                if self.training and bool(low.isfinite()):
                    known = bool(self.threshold.isfinite())
                    self.threshold.copy_(0.99 * self.threshold + 0.01 * low if known else low)
            else:
                top, indices = above(pre, self.threshold)
        return self._sparse_codes(centred, pre, top, indices)

    def _pick_jump(self, centred: Tensor) -> _Encoded:
        pre = torch.addmm(self.b_enc, centred, self.w_enc.t())  # (B, n_latents), with grad
        theta = self.log_threshold.exp()  # (n_latents,)
        dense = JumpReLU.apply(pre, theta, self.bandwidth)
        l0 = Step.apply(pre, theta, self.bandwidth).sum(1).mean()
        with torch.no_grad():
            _, indices = above(pre, theta)
        values = dense.gather(1, indices)  # zeros in the padding
        return _Encoded(values, indices, pre.detach(), centred, dense, l0)

    def _prefix_mse(self, enc: _Encoded, goal: Tensor) -> Tensor:
        """Matryoshka: the MSE of each smaller prefix's reconstruction, summed (else 0)."""
        if self.prefixes is None:
            return goal.new_zeros(())
        total = goal.new_zeros(())
        for size in self.prefixes[:-1]:
            inside = enc.values * (enc.indices < size)
            hat = _sparse_decode(inside, enc.indices, self.w_dec) + self.b_pre
            total = total + (hat - goal).pow(2).mean()
        return total

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


def _check_sizes(d_in: int, n_latents: int, k: int, k_aux: int | None, aux_coef: float,
                 name: str = "d_in") -> None:
    for label, value in ((name, d_in), ("n_latents", n_latents), ("k", k)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")
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
