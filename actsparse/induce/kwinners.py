"""k-winners-take-all activations with boosting (Ahmad & Scheinkman 2019, arXiv:1903.11257).

"How Can We Be So Dense? The Benefits of Using Highly Sparse Representations": in each sample
only the ``k`` units with the largest *boosted* inputs stay on; the rest output 0. Boosting
favours units that have rarely won, so that all of them take part:

    b_i = exp(beta * (a - d_i))          a = k / n, the target density
    winners = top-k of  b_i * x_i        (the outputs keep the un-boosted x_i)
    d_i <- (d_i * (T - B) + wins_i) / T  T = min(duty_cycle_period, samples seen) (at least B)

``d_i`` is the unit's duty cycle, the running fraction of samples in which it won, updated in
training mode only; ``B`` is the number of samples in the batch and ``wins_i`` how many of them
unit ``i`` won. ``beta`` (``boost_strength``) decays by ``boost_strength_factor`` each time the
training loop calls :meth:`~KWinners.update_boost_strength` (once per epoch in the paper). At
inference ``k`` is multiplied by ``k_inference_factor``. The default here is 1.0, not the 1.5 of
the paper and of nupic.torch: the density at inference then equals the density trained for
and asked for, which is what a profile reports and what the sparse kernels of ``exploit`` are
sized by. Pass ``k_inference_factor=1.5`` to follow the paper.

Under ``torch.distributed`` (when a process group is initialised) the per-batch win counts and
sample counts are summed over the ranks with one ``all_reduce`` per training forward before the
duty cycles are updated, so every rank keeps the duty cycles that one process would have on the
union of the data.

The gradient flows through the winners only (the losers are constants 0).

Details the paper leaves open, as done here:

- ``k = round(density * n)``; the target density in the boost is ``a = k / n`` (the density
  actually imposed), also at inference, where ``k`` grows but the boost stays as trained.
- Boosting multiplies the input, as in the paper and its reference code (nupic.torch): a
  negative input is pushed further down by a large boost. Ties at the k-th score are broken
  so that exactly ``k`` win: the lowest indices win, in the C kernel and in the torch path
  alike (so with fewer than ``k`` positive inputs both credit the same zero-valued winners).
- A duty cycle counts wins, not positive outputs; for ``KWinners2d`` a channel's duty cycle is
  the fraction of (sample, position) pairs it won. ``T`` is at least ``B``, so a batch larger
  than the period replaces the duty cycles instead of giving them a negative weight.
- Counts travel as float32 (exact up to 2**24 wins per unit per batch), so all ranks and a
  single process on the union of the data compute bit-identical duty cycles.

Speed: on contiguous float32 CPU tensors the selection runs in a small C kernel
(``_kwinners_kernel.c``: radix select on order-preserving integer keys, the output and the
per-unit win counts written in the same pass, OpenMP over samples); elsewhere (GPU, other
dtypes, no compiler, ``ACTSPARSE_NO_NATIVE=1``) ``torch.topk`` and a scatter make the mask.
Both give the same winners (tested); no Python loop runs over samples. Under
``torch.compile``, ``torch.export`` and ``torch.jit.trace`` the selection is the custom operator
``actsparse::kwinners`` (:mod:`actsparse.induce.kwinners_op`, with its autograd formula).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from actsparse._hooks import register_activation
from actsparse.induce.kwinners_op import (  # noqa: F401 - re-exported, the kernel lives there
    keep_winners,
    kwinners_kernel,
    select_winners,
    winners_mask,
)


def _check_density(density: float) -> float:
    density = float(density)
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")
    return density


def _count_k(density: float, n: int, what: str) -> int:
    k = round(density * n)
    if k < 1:
        raise ValueError(
            f"density {density} of {what} {n} gives k = {k} winners; use a density of at least "
            f"{0.5 / n:.3g} so that at least one unit wins"
        )
    return k


def _sync_counts(counts: Tensor) -> Tensor:
    """Sum a flat tensor of counts over the ranks when a process group is initialised."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(counts, op=dist.ReduceOp.SUM)
    return counts


class _KWinnersBase(nn.Module):
    """Duty cycles, boosting and their schedule, shared by :class:`KWinners` and ``KWinners2d``.

    ``duty_cycle`` (float32, one per unit or channel) and ``samples_seen`` (int64) are buffers;
    the current ``boost_strength`` is a float kept in the state dict as extra state.
    """

    duty_cycle: Tensor
    samples_seen: Tensor

    def __init__(self, units: int, density: float, boost_strength: float,
                 boost_strength_factor: float, duty_cycle_period: int,
                 k_inference_factor: float, sync_duty_cycles: bool) -> None:
        super().__init__()
        if units < 1:
            raise ValueError(f"the layer needs at least one unit, got {units}")
        if boost_strength < 0:
            raise ValueError(f"boost_strength must be >= 0, got {boost_strength}")
        if not 0.0 <= boost_strength_factor <= 1.0:
            raise ValueError(
                f"boost_strength_factor must be in [0, 1], got {boost_strength_factor}"
            )
        if duty_cycle_period < 1:
            raise ValueError(f"duty_cycle_period must be >= 1, got {duty_cycle_period}")
        if k_inference_factor <= 0:
            raise ValueError(f"k_inference_factor must be > 0, got {k_inference_factor}")
        self.density = _check_density(density)
        self.boost_strength = float(boost_strength)
        self.boost_strength_factor = float(boost_strength_factor)
        self.duty_cycle_period = int(duty_cycle_period)
        self.k_inference_factor = float(k_inference_factor)
        self.sync_duty_cycles = sync_duty_cycles
        self.native = True  # use the C selection kernel where it applies (tests turn it off)
        self.register_buffer("duty_cycle", torch.zeros(units))
        self.register_buffer("samples_seen", torch.zeros((), dtype=torch.long))

    def update_boost_strength(self) -> float:
        """Multiply ``boost_strength`` by ``boost_strength_factor`` (call once per epoch).

        Returns the new strength.
        """
        self.boost_strength *= self.boost_strength_factor
        return self.boost_strength

    def boost_factors(self, target_density: float) -> Tensor:
        """``exp(beta * (target_density - duty_cycle))``, one per unit or channel."""
        return torch.exp(self.boost_strength * (target_density - self.duty_cycle))

    def _k_inference(self, k: int, n: int, what: str) -> int:
        k_inf = round(k * self.k_inference_factor)
        if not 1 <= k_inf <= n:
            raise ValueError(
                f"k_inference_factor {self.k_inference_factor} turns k = {k} into {k_inf} "
                f"winners at inference, outside 1..{n} ({what})"
            )
        return k_inf

    @torch.no_grad()
    def _update_duty_cycle(self, wins: Tensor, samples: int, per_sample: int) -> None:
        """Fold one batch into the duty cycles.

        ``wins`` counts, per unit, the (sample, position) pairs it won; ``per_sample`` is the
        number of positions per sample (1 for a dense layer, H*W for a conv channel).
        """
        counts = torch.cat([wins.to(torch.float32), wins.new_full((1,), samples,
                                                                   dtype=torch.float32)])
        if self.sync_duty_cycles:
            counts = _sync_counts(counts)  # one all_reduce: (units + 1,)
        batch = counts[-1].to(torch.long)
        self.samples_seen += batch
        period = torch.minimum(self.samples_seen,
                               self.samples_seen.new_tensor(self.duty_cycle_period))
        period = torch.maximum(period, batch).to(self.duty_cycle.dtype)
        keep = period - batch.to(self.duty_cycle.dtype)
        self.duty_cycle.mul_(keep).add_(counts[:-1] / per_sample).div_(period)

    def reset_duty_cycle(self) -> None:
        """Forget the duty cycles (every unit starts again at 0, samples seen 0)."""
        self.duty_cycle.zero_()
        self.samples_seen.zero_()

    def get_extra_state(self) -> dict[str, Any]:
        return {"boost_strength": self.boost_strength}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.boost_strength = float(state["boost_strength"])

    def _schedule_repr(self) -> str:
        return (f"boost_strength={self.boost_strength:g}, "
                f"boost_strength_factor={self.boost_strength_factor:g}, "
                f"duty_cycle_period={self.duty_cycle_period}, "
                f"k_inference_factor={self.k_inference_factor:g}")


class KWinners(_KWinnersBase):
    r"""k-winners-take-all over the last dimension: ``k = round(density * n)`` units stay on.

    Every position of the leading dimensions is one sample: ``(B, n)`` has B samples,
    ``(B, T, n)`` has B*T (each token picks its own winners).

    Args:
        n: units in the last dimension.
        density: fraction of units that win, in (0, 1].
        boost_strength: beta in ``exp(beta * (density - duty_cycle))``; 0 turns boosting off.
        boost_strength_factor: multiplies beta at each :meth:`update_boost_strength`.
        duty_cycle_period: samples over which the duty cycles average.
        k_inference_factor: ``k`` at inference (eval mode) is ``round(k * k_inference_factor)``;
            1.0 keeps the trained density (the paper uses 1.5, see the module docstring).
        sync_duty_cycles: sum the batch's win counts over ``torch.distributed`` ranks.

    Shape:
        - Input: ``(*, n)``
        - Output: ``(*, n)``; in each sample the ``k`` winners keep their value, the rest are 0.

    Examples:
        >>> torch.manual_seed(0) and None
        >>> kw = KWinners(10, density=0.2)
        >>> kw
        KWinners(n=10, density=0.2, k=2, k_inference=2, boost_strength=1,
                 boost_strength_factor=0.9, duty_cycle_period=1000, k_inference_factor=1)
        >>> y = kw(torch.randn(4, 10))
        >>> (y != 0).sum(dim=1).tolist()
        [2, 2, 2, 2]
        >>> kw.duty_cycle.mean().item()  # 2 winners of 10 in each sample
        0.2...
    """

    def __init__(self, n: int, density: float, *, boost_strength: float = 1.0,
                 boost_strength_factor: float = 0.9, duty_cycle_period: int = 1000,
                 k_inference_factor: float = 1.0, sync_duty_cycles: bool = True) -> None:
        super().__init__(n, density, boost_strength, boost_strength_factor, duty_cycle_period,
                         k_inference_factor, sync_duty_cycles)
        self.n = int(n)
        self.k = _count_k(self.density, self.n, "n =")
        self.k_inference = self._k_inference(self.k, self.n, f"n = {self.n}")

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 1 or x.shape[-1] != self.n:
            raise ValueError(
                f"KWinners(n={self.n}) expects inputs of shape (*, {self.n}), got "
                f"{tuple(x.shape)}"
            )
        k = self.k if self.training else self.k_inference
        samples = x.numel() // self.n
        boost = self.boost_factors(self.k / self.n) if self.boost_strength > 0 else None
        out, wins = keep_winners(x, k, (samples, self.n, 1), boost, 1, self.n,
                                 self.native)  # out like x, wins (n,)
        if self.training:
            self._update_duty_cycle(wins, samples, 1)
        return out

    def extra_repr(self) -> str:
        return (f"n={self.n}, density={self.density:g}, k={self.k}, "
                f"k_inference={self.k_inference}, {self._schedule_repr()}")


class KWinners2d(_KWinnersBase):
    r"""k-winners-take-all for conv feature maps ``(N, C, H, W)``, boosted per channel.

    Global (``local=False``, the paper's CNN layers): ``k = round(density * C*H*W)`` winners per
    sample among all its channels and positions. Local (``local=True``): ``k = round(density *
    C)`` winning channels at each position. A channel's duty cycle is the fraction of
    (sample, position) pairs it won; its boost multiplies all its positions.

    Args:
        channels: C, the number of input channels.
        density: fraction of entries that win, in (0, 1].
        local: choose winners among channels at each position instead of over the whole map.
        boost_strength, boost_strength_factor, duty_cycle_period, k_inference_factor,
        sync_duty_cycles: as in :class:`KWinners`.

    Shape:
        - Input: ``(N, C, H, W)``
        - Output: ``(N, C, H, W)``

    Examples:
        >>> kw = KWinners2d(4, density=0.25)
        >>> y = kw(torch.randn(2, 4, 3, 3))
        >>> (y != 0).flatten(1).sum(dim=1).tolist()  # round(0.25 * 36) = 9 per sample
        [9, 9]
        >>> local = KWinners2d(4, density=0.5, local=True)
        >>> (local(torch.randn(2, 4, 3, 3)) != 0).sum(dim=1).unique().tolist()  # 2 per position
        [2]
        >>> local
        KWinners2d(channels=4, density=0.5, local=True, k=2, k_inference=2, boost_strength=1,
                   boost_strength_factor=0.9, duty_cycle_period=1000, k_inference_factor=1)
    """

    def __init__(self, channels: int, density: float, *, local: bool = False,
                 boost_strength: float = 1.0, boost_strength_factor: float = 0.9,
                 duty_cycle_period: int = 1000, k_inference_factor: float = 1.0,
                 sync_duty_cycles: bool = True) -> None:
        super().__init__(channels, density, boost_strength, boost_strength_factor,
                         duty_cycle_period, k_inference_factor, sync_duty_cycles)
        self.channels = int(channels)
        self.local = bool(local)
        self._k_cache: dict[int, tuple[int, int]] = {}
        if self.local:
            k = _count_k(self.density, self.channels, "channels =")
            self._k_cache[self.channels] = (k, self._k_inference(k, self.channels, "channels"))

    def k_for(self, n: int) -> tuple[int, int]:
        """``(k, k_inference)`` for a group of ``n`` entries (C*H*W global, C local)."""
        if n not in self._k_cache:
            k = _count_k(self.density, n, "C*H*W =")
            self._k_cache[n] = (k, self._k_inference(k, n, f"C*H*W = {n}"))
        return self._k_cache[n]

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(
                f"KWinners2d(channels={self.channels}) expects inputs of shape "
                f"(N, {self.channels}, H, W), got {tuple(x.shape)}"
            )
        n_batch, c, h, w = x.shape
        n = c if self.local else c * h * w
        k_train, k_inf = self.k_for(n)
        k = k_train if self.training else k_inf
        boost = self.boost_factors(k_train / n) if self.boost_strength > 0 else None  # (C,)
        # groups: one per sample (global) or per (sample, position) (local)
        layout = (n_batch, c, h * w) if self.local else (n_batch, n, 1)
        div = 1 if self.local else h * w
        out, wins = keep_winners(x, k, layout, boost, div, c, self.native)
        if self.training:
            self._update_duty_cycle(wins, n_batch, h * w)  # wins: (C,)
        return out

    def extra_repr(self) -> str:
        ks = f", k={self._k_cache[self.channels][0]}, k_inference=" \
             f"{self._k_cache[self.channels][1]}" if self.local else ""
        return (f"channels={self.channels}, density={self.density:g}, local={self.local}{ks}, "
                f"{self._schedule_repr()}")


register_activation(KWinners)
register_activation(KWinners2d)
