"""ActivationPenalty: hooks that add an activation-sparsity penalty to any model's loss."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from functools import partial

import torch
from torch import Tensor, nn

from actsparse._hooks import LayerSpec, Target, hooked, select_layers
from actsparse.induce.penalty_terms import hoyer_square_penalty, kl_penalty, l1_penalty
from actsparse.induce.schedules import ScheduleLike, make_schedule
from actsparse.measure.batches import model_device

KINDS = ("l1", "hoyer", "kl")


class ActivationPenalty:
    r"""Penalise the activations of chosen layers, computed by forward hooks as the model runs.

    Each forward (with gradients enabled) adds, for every hooked layer, one term that keeps the
    autograd graph; :meth:`loss` returns ``current_weight * sum over layers of (mean over the
    forwards since the last loss() of the layer's term)`` and clears them. So

    - call ``loss()`` after each forward (``loss = task_loss + pen.loss()``): this works as is
      with gradient accumulation, where each micro-batch's loss is scaled like its task loss;
    - or run several forwards, then one ``loss()``: it is their mean (all their graphs stay
      alive until the backward).

    Layers add up (as in Kurtz et al.); each layer's term is normalised by its size. Forwards run
    without gradients (``torch.no_grad``, ``inference_mode``, evaluation) add nothing. A module
    called twice in one forward counts as two layers (``name`` and ``name#1``).

    Kinds (see :mod:`actsparse.induce.penalty_terms` for the formulas):

    - ``"l1"``: ``mean |a|`` per element.
    - ``"hoyer"``: Hoyer-square ``(sum |a|)^2 / sum a^2`` per sample divided by the sample size
      (an effective density in [1/n, 1]), mean over samples (Kurtz et al., ICML 2020).
    - ``"kl"``: mean over units of ``KL(target || rho_hat_j)``, ``rho_hat_j`` the mean of
      ``tanh(|a_j|)`` over the batch (Ng's sparse autoencoder penalty).

    Under ``torch.distributed`` DDP each rank computes the penalty on its own batch and DDP's
    gradient averaging averages it, which equals the penalty of the whole batch for ``l1`` and
    ``hoyer`` (equal batch sizes). For ``kl`` the batch statistic ``rho_hat`` is all-reduced
    across ranks (differentiably) when ``sync_stats=True``, so it is the global batch's.

    Args:
        model: any ``nn.Module`` (a DDP-wrapped one too).
        kind: ``"l1"``, ``"hoyer"`` or ``"kl"``.
        weight: the penalty's weight (>= 0) at full schedule.
        layers: ``None`` for every activation module (as the profiler), or names, globs
            (``"encoder.*.act"``, ``"fc2:input"``) and module types.
        target: for ``kind="kl"`` only, the firing rate to aim for, in (0, 1), e.g. 0.05.
        schedule: factor of ``weight`` per step: ``None``/``"constant"``, ``"warmup:STEPS"``,
            ``"progressive:STEPS[:STAGES]"`` or any callable ``step -> factor``
            (:mod:`actsparse.induce.schedules`).
        sync_stats: all-reduce the ``kl`` batch statistics across ranks.

    The schedule starts at step 0 and moves on by one with each :meth:`step` (call it after
    each ``optimizer.step()``), or set :attr:`step_count` directly, e.g. to a trainer's global
    step.

    Example:
        >>> import torch
        >>> from actsparse.induce.penalty import ActivationPenalty
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
        >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
        >>> with ActivationPenalty(net, kind="l1", weight=0.5, schedule="warmup:10") as pen:
        ...     for _ in range(3):
        ...         loss = net(torch.randn(16, 4)).square().mean() + pen.loss()
        ...         opt.zero_grad(); loss.backward(); opt.step(); pen.step()
        >>> pen.step_count, pen.current_weight
        (3, 0.15)
        >>> len(net[1]._forward_hooks)
        0
    """

    def __init__(
        self,
        model: nn.Module,
        kind: str = "l1",
        *,
        weight: float,
        layers: LayerSpec | Sequence[LayerSpec] | None = None,
        target: float | None = None,
        schedule: ScheduleLike = None,
        sync_stats: bool = True,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown penalty kind {kind!r}; kinds are: {', '.join(KINDS)}")
        if isinstance(weight, bool) or not isinstance(weight, int | float | numbers.Real):
            raise TypeError(f"weight must be a number, got {type(weight).__name__}")
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weight must be a finite number >= 0, got {weight}")
        if kind == "kl":
            if target is None:
                raise ValueError(
                    "kind='kl' needs target=, the firing rate to aim for, in (0, 1), e.g. 0.05"
                )
            if not 0.0 < target < 1.0:
                raise ValueError(f"kl target must be a firing rate in (0, 1), got {target}")
        elif target is not None:
            raise ValueError(f"target is used only by kind='kl', not by kind={kind!r}")
        self.model = model
        self.kind = kind
        self.weight = float(weight)
        self.target = target
        self.schedule = make_schedule(schedule)
        self.sync_stats = sync_stats
        self.targets: list[Target] = select_layers(model, layers)
        self.step_count: int = 0
        self.last_terms: dict[str, float] = {}
        self._term = self._term_function()
        self._sums: dict[str, Tensor] = {}
        self._counts: dict[str, int] = {}
        self._stack: ExitStack | None = ExitStack()
        self._stack.enter_context(hooked(model, self.targets, self._observe))

    # -- the training-loop API ----------------------------------------------------------------
    @property
    def current_weight(self) -> float:
        """``weight * schedule(step_count)``."""
        return self.weight * float(self.schedule(self.step_count))

    def loss(self) -> Tensor:
        """The weighted penalty of the forwards since the last call; clears them.

        Returns a zero tensor (on the model's device) when no forward with gradients ran.
        The unweighted per-layer terms are kept, as floats, in :attr:`last_terms`.
        """
        if not self._sums:
            self.last_terms = {}
            return torch.zeros((), device=model_device(self.model) or torch.device("cpu"))
        means = {name: s / self._counts[name] for name, s in self._sums.items()}
        self.last_terms = {name: float(m.detach()) for name, m in means.items()}
        self.reset()
        terms = list(means.values())
        device = terms[0].device  # layers may sit on several devices
        return self.current_weight * torch.stack([t.to(device) for t in terms]).sum()

    def step(self) -> None:
        """Advance the schedule by one step (call it once per optimizer step)."""
        self.step_count += 1

    def reset(self) -> None:
        """Drop the terms of the forwards since the last :meth:`loss`."""
        self._sums.clear()
        self._counts.clear()

    @property
    def layer_names(self) -> list[str]:
        """Names of the hooked layers (``NAME`` or ``NAME:input``)."""
        return [t.name for t in self.targets]

    # -- hooks as a resource --------------------------------------------------------------------
    def remove(self) -> None:
        """Remove every hook from the model (idempotent); pending terms are dropped."""
        if self._stack is not None:
            self._stack.close()
            self._stack = None
        self.reset()

    @property
    def attached(self) -> bool:
        """Whether the hooks are still on the model."""
        return self._stack is not None

    def __enter__(self) -> ActivationPenalty:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def __repr__(self) -> str:
        extra = f", target={self.target}" if self.target is not None else ""
        return (
            f"ActivationPenalty(kind={self.kind!r}, weight={self.weight}{extra}, "
            f"schedule={self.schedule!r}, layers={len(self.targets)}, step={self.step_count})"
        )

    # -- internals ------------------------------------------------------------------------------
    def _term_function(self) -> Callable[[Tensor], Tensor]:
        if self.kind == "l1":
            return l1_penalty
        if self.kind == "hoyer":
            return hoyer_square_penalty
        assert self.target is not None
        return partial(kl_penalty, target=self.target, sync=self.sync_stats)

    def _observe(self, name: str, x: Tensor) -> None:
        if not torch.is_grad_enabled() or not x.is_floating_point() or x.dim() == 0:
            return
        term = self._term(x)
        self._sums[name] = self._sums[name] + term if name in self._sums else term
        self._counts[name] = self._counts.get(name, 0) + 1

