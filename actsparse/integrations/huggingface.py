"""Activation-sparsity penalties and density logging for the Hugging Face ``Trainer``.

A ``TrainerCallback`` cannot change the loss, so there are two pieces:

- :class:`SparsityCallback` hooks the model when training begins, moves the penalty's schedule
  to the trainer's global step (optimizer steps) after each step, profiles the training
  forwards (not evaluation) and logs per-layer density and the penalty with each log.
- :class:`SparseTrainer`, a ``transformers.Trainer`` whose ``compute_loss`` adds the callback's
  penalty to the loss (scaled like the task loss under gradient accumulation) and whose
  ``log`` adds the sparsity entries, so every reporter (TensorBoard, W&B, ...) receives them.

With a plain ``Trainer`` the callback only logs (and warns that no penalty is added).

Needs the ``hf`` extra: ``pip install actsparse[hf]``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from actsparse._hooks import LayerSpec
from actsparse.induce.schedules import ScheduleLike
from actsparse.integrations._tracking import SparsityTracker

try:
    from transformers import Trainer, TrainerCallback
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "actsparse.integrations.huggingface needs transformers: pip install actsparse[hf]"
    ) from err


class SparsityCallback(TrainerCallback):
    """Adds an :class:`~actsparse.induce.penalty.ActivationPenalty` to training with
    :class:`SparseTrainer`, and logs per-layer density.

    Logged (with each Trainer log, measured on the training batches since the previous log, on
    this rank): ``sparsity/<layer>/density``, ``sparsity/mean_density``, ``sparsity/penalty``
    (the mean weighted penalty added to the loss) and ``sparsity/weight`` (after the schedule).

    Args:
        penalty_kind: ``"l1"``, ``"hoyer"`` or ``"kl"``.
        weight: penalty weight at full schedule (>= 0; 0 only logs density).
        layers: ``None`` for every activation module, or names, globs and module types.
        target: the firing rate for ``"kl"``.
        schedule: ``None``, ``"warmup:STEPS"``, ``"progressive:STEPS[:STAGES]"`` or a callable;
            its step is the trainer's ``global_step``.
        log_density: profile the training forwards and log density.

    Example:
        >>> from actsparse.integrations.huggingface import SparsityCallback
        >>> SparsityCallback(penalty_kind="hoyer", weight=1e-3, schedule="warmup:100")
        SparsityCallback(penalty_kind='hoyer', weight=0.001, schedule='warmup:100')
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
        self.adds_penalty = False  # set by SparseTrainer

    def __repr__(self) -> str:
        t = self.tracker
        extra = f", target={t.target}" if t.target is not None else ""
        extra += f", schedule={t.schedule!r}" if t.schedule is not None else ""
        return f"SparsityCallback(penalty_kind={t.kind!r}, weight={t.weight}{extra})"

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        model = kwargs.get("model")
        if not isinstance(model, nn.Module):
            raise ValueError("SparsityCallback needs the Trainer's model (got none)")
        self.tracker.attach(model).step_count = state.global_step
        if not self.adds_penalty and self.tracker.weight > 0:
            warnings.warn(
                "SparsityCallback with a plain transformers.Trainer only logs density: use "
                "actsparse.integrations.huggingface.SparseTrainer to add the penalty to the loss",
                stacklevel=2,
            )

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.tracker.start_measuring()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.tracker.stop_measuring()
        if self.tracker.penalty is not None:
            self.tracker.penalty.step_count = state.global_step

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        if self.adds_penalty or logs is None:
            return  # SparseTrainer.log has added them already, for every reporter
        extra = self.tracker.pop_logs()
        logs.update(extra)
        if state.log_history:
            state.log_history[-1].update(extra)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.tracker.detach()


class SparseTrainer(Trainer):
    """A ``transformers.Trainer`` that adds the penalty of its :class:`SparsityCallback`.

    Pass the callback in ``callbacks=[SparsityCallback(...)]`` (exactly one). Under gradient
    accumulation each micro-batch adds its own penalty, divided by the number of micro-batches
    when the Trainer does not divide the loss itself, so an optimizer step sees the mean
    penalty of its micro-batches. Evaluation forwards (no gradients) add no penalty.

    Example:
        >>> import tempfile, transformers
        >>> from actsparse.integrations.huggingface import SparseTrainer, SparsityCallback
        >>> config = transformers.BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1,
        ...                                  num_attention_heads=2, intermediate_size=16)
        >>> model = transformers.BertForSequenceClassification(config)
        >>> args = transformers.TrainingArguments(tempfile.mkdtemp(), report_to=[], use_cpu=True)
        >>> trainer = SparseTrainer(model=model, args=args,
        ...                         callbacks=[SparsityCallback("l1", weight=1e-3)])
        >>> trainer.sparsity
        SparsityCallback(penalty_kind='l1', weight=0.001)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        found = [c for c in self.callback_handler.callbacks if isinstance(c, SparsityCallback)]
        if len(found) != 1:
            raise ValueError(
                f"SparseTrainer needs exactly one SparsityCallback in callbacks=[...], got "
                f"{len(found)}; e.g. callbacks=[SparsityCallback('l1', weight=1e-4)]"
            )
        self.sparsity: SparsityCallback = found[0]
        self.sparsity.adds_penalty = True

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Tensor | int | None = None,
    ) -> Any:
        result: Any = super().compute_loss(
            model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
        )
        penalty = self.sparsity.tracker.penalty
        if penalty is None or not torch.is_grad_enabled():
            return result
        loss: Tensor
        loss, outputs = result if return_outputs else (result, None)
        extra = penalty.loss().to(loss.device)
        self.sparsity.tracker.record(extra)
        if self._loss_is_scaled_for_ga(num_items_in_batch):
            extra = extra / getattr(self, "current_gradient_accumulation_steps", 1)
        loss = loss + extra
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        logs.update(self.sparsity.tracker.pop_logs())
        super().log(logs, *args, **kwargs)

    def _loss_is_scaled_for_ga(self, num_items_in_batch: Tensor | int | None) -> bool:
        """Whether the Trainer leaves this loss undivided by the accumulation steps (it was
        normalised over the whole accumulated batch); mirrors ``Trainer.training_step``."""
        flag = getattr(self, "loss_is_scaled_for_ga", None)
        if flag is not None:
            return bool(flag)
        accepts = bool(getattr(self, "model_accepts_loss_kwargs", False))
        custom = getattr(self, "compute_loss_func", None) is not None
        return (accepts and num_items_in_batch is not None) or custom
