"""Activation-sparsity penalties and density logging for Lightning.

:class:`SparsityCallback` hooks the ``LightningModule`` when fitting starts, adds the penalty to
what ``training_step`` returns (so Lightning's gradient-accumulation scaling applies to it too),
moves the schedule to ``trainer.global_step`` (optimizer steps), and logs with
``pl_module.log`` after each training batch: ``sparsity/<layer>/density`` (that batch, this
rank), ``sparsity/mean_density``, ``sparsity/penalty`` and ``sparsity/weight``. Evaluation
forwards are not penalised nor profiled. With manual optimization the callback only logs: add
``callback.penalty.loss()`` to your loss yourself.

Needs ``lightning`` (or ``pytorch_lightning``): ``pip install actsparse[lightning]``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor

from actsparse._hooks import LayerSpec
from actsparse.induce.penalty import ActivationPenalty
from actsparse.induce.schedules import ScheduleLike
from actsparse.integrations._tracking import SparsityTracker

try:
    import lightning.pytorch as pl
except ImportError:
    try:
        import pytorch_lightning as pl  # type: ignore[no-redef]
    except ImportError as err:
        raise ImportError(
            "actsparse.integrations.lightning needs Lightning: pip install actsparse[lightning]"
        ) from err


class SparsityCallback(pl.Callback):
    """A Lightning ``Callback`` that adds an activation penalty to the training loss.

    Args:
        penalty_kind: ``"l1"``, ``"hoyer"`` or ``"kl"``.
        weight: penalty weight at full schedule (>= 0; 0 only logs density).
        layers: ``None`` for every activation module, or names, globs and module types.
        target: the firing rate for ``"kl"``.
        schedule: ``None``, ``"warmup:STEPS"``, ``"progressive:STEPS[:STAGES]"`` or a callable;
            its step is ``trainer.global_step``.
        log_density: profile the training forwards and log per-layer density.

    Example:
        >>> from actsparse.integrations.lightning import SparsityCallback
        >>> SparsityCallback("kl", weight=0.1, target=0.05)
        SparsityCallback(penalty_kind='kl', weight=0.1, target=0.05)
    """

    def __init__(
        self,
        penalty_kind: str = "l1",
        weight: float = 0.0,
        layers: LayerSpec | Sequence[LayerSpec] | None = None,
        target: float | None = None,
        schedule: ScheduleLike = None,
        log_density: bool = True,
    ) -> None:
        self.tracker = SparsityTracker(
            penalty_kind, weight, layers, target, schedule, log_density=log_density
        )
        self._wrapped: Any = None

    @property
    def penalty(self) -> ActivationPenalty | None:
        """The penalty on the module being fitted (``None`` outside ``fit``)."""
        return self.tracker.penalty

    def __repr__(self) -> str:
        t = self.tracker
        extra = f", target={t.target}" if t.target is not None else ""
        extra += f", schedule={t.schedule!r}" if t.schedule is not None else ""
        return f"SparsityCallback(penalty_kind={t.kind!r}, weight={t.weight}{extra})"

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if stage != "fit":
            return
        self.tracker.attach(pl_module)
        if not pl_module.automatic_optimization:
            warnings.warn(
                "SparsityCallback: with manual optimization add callback.penalty.loss() to your "
                "loss yourself; the callback only logs density",
                stacklevel=2,
            )
            return
        self._wrapped = pl_module
        pl_module.training_step = self._with_penalty(pl_module.training_step)

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if self._wrapped is not None:
            del self._wrapped.training_step  # the class's method again
            self._wrapped = None
        self.tracker.detach()

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, idx: int) -> None:
        if self.tracker.penalty is not None:
            self.tracker.penalty.step_count = trainer.global_step
        self.tracker.start_measuring()

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, idx: int
    ) -> None:
        self.tracker.stop_measuring()
        if self.tracker.penalty is not None:
            self.tracker.penalty.step_count = trainer.global_step
        logs = self.tracker.pop_logs()
        if logs:
            pl_module.log_dict(logs, on_step=True, on_epoch=False)

    def _with_penalty(self, training_step: Callable[..., Any]) -> Callable[..., Any]:
        def step(*args: Any, **kwargs: Any) -> Any:
            out = training_step(*args, **kwargs)
            penalty = self.tracker.penalty
            if penalty is None:
                return out
            if out is None:  # the batch is skipped
                penalty.reset()
                return out
            extra = penalty.loss()
            self.tracker.record(extra)
            if isinstance(out, Tensor):
                return out + extra.to(out.device)
            if isinstance(out, dict) and isinstance(out.get("loss"), Tensor):
                return {**out, "loss": out["loss"] + extra.to(out["loss"].device)}
            raise TypeError(
                "SparsityCallback: training_step must return a loss tensor, a dict with 'loss' "
                f"or None, got {type(out).__name__}"
            )

        return step
