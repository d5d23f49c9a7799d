"""Train a small classifier with a sparsity spec: deterministic, checkpointed, resumable.

One run = one output folder. After every epoch the folder gets ``checkpoint.safetensors``
(written atomically); at the end ``metrics.json`` (accuracies, per-layer density from a
profile of the test set, time, the command line). With ``resume=True`` a run picks up after
the last complete epoch of the checkpoint in its folder and ends exactly as an uninterrupted
run with the same seed would: the weights, the optimizer state and both random number
generators (torch's global one, used by dropout, and the one that shuffles) are restored, and
the learning rate of epoch ``e`` is ``lr * lr_decay**e``, which does not depend on the total
number of epochs (so a finished run can also be extended).

For ``sc:ALPHA`` (a sparse-coding front end) a fresh run first learns the front end's
dictionary from random patches of the training images (deterministic from the seed; torch's
global generator is left untouched); it is a buffer of the model, so a resumed run takes it
from the checkpoint instead of learning it again. The time it took is recorded as
``dictionary_seconds`` in the first epoch's history entry and counted in ``seconds``.

Speech (``ds-cnn`` / ``gsc-cnn`` on ``speech-commands`` or ``speech-commands:PATH``, see
:mod:`~actsparse.train.speech_inputs`) trains on the 'train' split and is selected on 'val':
each epoch's val accuracy goes into the history, the weights of the best epoch so far (the
first, on ties) are kept in ``best.safetensors``, and the metrics are those of that epoch's
model: test accuracy and density, the held-out engine's accuracy (the synthesised set only;
``None`` for a GSC folder). ``patience=P`` stops after ``P`` epochs without a better val
accuracy.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from actsparse import zoo
from actsparse._progress import Bars
from actsparse.induce.penalty import ActivationPenalty
from actsparse.interpret import conv_coding
from actsparse.train.checkpoint import (
    FILE_NAME,
    CheckpointError,
    check_same_run,
    load_checkpoint,
    restore,
    save_checkpoint,
)
from actsparse.train.models import ARCHS, build_model, model_config
from actsparse.train.run_metrics import densities, evaluate, write_metrics
from actsparse.train.spec import SparsitySpec, parse_sparsity
from actsparse.train.speech_inputs import check_model_fits_data, is_speech_data, speech_splits
from actsparse.zoo.ratings import is_ratings_name

# How an sc front end's dictionary is learned (part of the run's identity in a checkpoint).
SC_DICTIONARY: dict[str, int] = {"n_patches": 10000, "n_epochs": 2, "batch_size": 256}
BEST_FILE = "best.safetensors"  # speech runs: the checkpoint of the best val epoch


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run's result (the output folder aside).

    Example:
        >>> TrainConfig(model="mlp", data="digits", sparsity="kwta:0.1").lr
        0.001
    """

    model: str = "cnn"
    data: str = "mnist"
    sparsity: str = "none"
    epochs: int = 3
    seed: int = 0
    batch_size: int = 128
    lr: float = 1e-3  # Adam: reaches ~99% on MNIST in 2-3 epochs, the fastest on 2 CPU cores
    lr_decay: float = 0.7  # per epoch; lr * lr_decay**epoch is independent of `epochs`
    train_limit: int | None = None  # first N training images (tests, quick looks)
    test_limit: int | None = None
    patience: int | None = None  # speech: stop after this many epochs without a better val


    def check(self) -> SparsitySpec:
        """Validate the settings; return the parsed sparsity spec."""
        if self.model not in ARCHS:
            raise ValueError(f"unknown model {self.model!r}; choose one of: {', '.join(ARCHS)}")
        if is_ratings_name(self.data):
            raise ValueError(f"--model {self.model} trains on images or speech; {self.data!r} is "
                             "ratings data: use --model mult-dae")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1], got {self.lr_decay}")
        check_model_fits_data(self.model, self.data)
        for name in ("train_limit", "test_limit", "patience"):
            limit = getattr(self, name)
            if limit is not None and limit < 1:
                raise ValueError(f"{name} must be >= 1 (or None for all the data), got {limit}")
        return parse_sparsity(self.sparsity)

    def identity(self) -> dict[str, Any]:
        """The settings a checkpoint must share to be resumed (all but ``epochs``, ``patience``)."""
        d = asdict(self)
        d.pop("epochs")
        d.pop("patience")
        return d


def train(
    config: TrainConfig,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    command: str | None = None,
    on_epoch: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Train ``config.model`` on ``config.data``; write the checkpoint and ``metrics.json``.

    Args:
        config: the run's settings (:class:`TrainConfig`).
        out: output folder.
        resume: continue after the last complete epoch of ``out/checkpoint.safetensors``
            (a fresh start when there is none); a checkpoint of another run is refused.
        progress: show a progress bar.
        command: the command line, recorded in ``metrics.json``.
        on_epoch: called with the epoch number (1-based) after each epoch's checkpoint.

    Returns the metrics written to ``out/metrics.json``.

    Example:
        >>> import tempfile
        >>> cfg = TrainConfig(model="mlp", data="digits", epochs=1, train_limit=256)
        >>> m = train(cfg, tempfile.mkdtemp(), progress=False)
        >>> sorted(m["density"]), 0.0 <= m["test_accuracy"] <= 1.0
        (['act1', 'act2'], True)
    """
    spec = config.check()
    out = Path(out)
    held: dict[str, Any] = {}  # speech: val and heldout-engine, beside train and test
    if is_speech_data(config.data):
        held = speech_splits(config.data, config.train_limit, config.test_limit)
        train_data, test_data = held.pop("train"), held.pop("test")
        classes = len(train_data.classes)
    else:
        train_data = _image_data(zoo.load_data(config.data, "train", config.train_limit))
        test_data = _image_data(zoo.load_data(config.data, "test", config.test_limit))
        classes = int(max(train_data.labels.max(), test_data.labels.max())) + 1
    torch.manual_seed(config.seed)
    c, h, w = train_data.images.shape[1:]
    mcfg = model_config(config.model, (c, h, w), max(classes, 2))
    model = build_model(mcfg, spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    run = json.loads(json.dumps(  # as a checkpoint stores it (tuples become lists)
        {**config.identity(), "model_config": mcfg.to_dict(), "sparsity": str(spec),
         **({"front_end": {"n_iter": spec.iters, **SC_DICTIONARY}} if spec.kind == "sc" else {})}))

    ckpt_path = out / FILE_NAME
    history: list[dict[str, Any]] = []
    setup: dict[str, float] = {}  # one-off work of a fresh run, reported with its first epoch
    if resume and ckpt_path.exists():
        history = _resume(ckpt_path, run, config.epochs, model, optimizer, generator)
    elif spec.kind == "sc":
        setup["dictionary_seconds"] = _learn_dictionary(model, train_data.images, config.seed)
    start = len(history)
    penalty = _penalty(model, spec, model.hidden_layers)
    if penalty is not None:
        penalty.step_count = sum(h["steps"] for h in history)  # the schedule's position
    try:
        with Bars("loss {loss:.4f}", enabled=progress) as bars:
            for epoch in range(start, config.epochs):
                if _stale(history, config.patience):
                    break
                t0 = time.perf_counter()
                for group in optimizer.param_groups:
                    group["lr"] = config.lr * config.lr_decay**epoch
                task = bars.add(f"epoch {epoch + 1}/{config.epochs}", loss=float("nan"),
                                total=math.ceil(len(train_data) / config.batch_size))
                loss, steps = _epoch(model, optimizer, penalty, train_data.images,
                                     train_data.labels, config.batch_size, generator,
                                     functools.partial(bars.update, task, advance=1))
                _end_of_epoch(model)
                history.append({"epoch": epoch + 1, "loss": loss, "steps": steps,
                                "seconds": time.perf_counter() - t0, **setup})
                setup = {}
                if "val" in held:
                    history[-1]["val_accuracy"] = evaluate(model, held["val"].images,
                                                           held["val"].labels)[0]
                    if _best_epoch(history) == epoch + 1:  # before the checkpoint: see resume
                        save_checkpoint(out / BEST_FILE, epoch=epoch + 1, run=run, model=model,
                                        optimizer=optimizer, generator=generator,
                                        history=history)
                save_checkpoint(ckpt_path, epoch=epoch + 1, run=run, model=model,
                                optimizer=optimizer, generator=generator, history=history)
                if on_epoch is not None:
                    on_epoch(epoch + 1)
    finally:
        if penalty is not None:
            penalty.remove()

    extra: dict[str, Any] = {}
    if "val" in held:
        best = _best_epoch(history)
        if best != len(history):
            model.load_state_dict(load_checkpoint(out / BEST_FILE).model)
        extra = {"best_epoch": best, "epochs_run": len(history),
                 "val_accuracy": history[best - 1]["val_accuracy"],
                 "heldout_engine_accuracy": evaluate(
                     model, held["heldout-engine"].images, held["heldout-engine"].labels)[0]
                 if "heldout-engine" in held else None}
    metrics = _report(model, train_data, test_data, history, command)
    metrics.update(extra)
    metrics.update(sparsity=str(spec), model=config.model, data=config.data, epochs=config.epochs,
                   config=asdict(config), model_config=mcfg.to_dict())
    write_metrics(out, metrics)
    return metrics


def _resume(
    path: Path, run: dict[str, Any], epochs: int, model: nn.Module,
    optimizer: torch.optim.Optimizer, generator: torch.Generator,
) -> list[dict[str, Any]]:
    """Restore the checkpoint at ``path`` after checking it is of this run; its history."""
    ckpt = load_checkpoint(path)
    check_same_run(ckpt, run, path)
    if ckpt.epoch > epochs:
        raise CheckpointError(
            f"checkpoint {path} has {ckpt.epoch} epochs, more than the {epochs} asked for; "
            f"ask for --epochs {ckpt.epoch} or more")
    restore(ckpt, model, optimizer, generator)
    return ckpt.history


def _report(model: Any, train_data: Any, test_data: Any, history: list[dict[str, Any]],
            command: str | None) -> dict[str, Any]:
    """Accuracies, test-set density of the hidden layers, and time."""
    t0 = time.perf_counter()
    test_acc, prof = evaluate(model, test_data.images, test_data.labels,
                              layers=model.hidden_layers)
    train_acc, _ = evaluate(model, train_data.images, train_data.labels)
    return {
        "test_accuracy": test_acc,
        "train_accuracy": train_acc,
        "density": densities(prof) if prof is not None else {},
        "seconds": sum(h["seconds"] + h.get("dictionary_seconds", 0.0) for h in history),
        "eval_seconds": time.perf_counter() - t0,
        "command": command,
        "history": history,
    }


def _learn_dictionary(model: nn.Module, images: Tensor, seed: int) -> float:
    """Learn the sc front end's atoms from ``images``; return the seconds it took."""
    front = getattr(model, "conv1", None)
    if not isinstance(front, conv_coding.SparseCodingConv2d):
        raise ValueError("sc needs a model whose conv1 is a sparse-coding front end (the cnn)")
    t0 = time.perf_counter()
    atoms = conv_coding.fit_patch_dictionary(  # by module: tests replace it
        images, front.out_channels, front.kernel_size[0], alpha=front.alpha,
        padding=front.padding[0], seed=seed, positive=front.positive, **SC_DICTIONARY,
    )
    front.set_dictionary(atoms)
    return time.perf_counter() - t0


def _best_epoch(history: list[dict[str, Any]]) -> int:
    """The 1-based epoch of the best val accuracy in ``history`` (the first, on ties)."""
    scores = [h["val_accuracy"] for h in history]
    return scores.index(max(scores)) + 1


def _stale(history: list[dict[str, Any]], patience: int | None) -> bool:
    """Whether ``patience`` epochs have passed since the best val accuracy."""
    if patience is None or not history or "val_accuracy" not in history[-1]:
        return False
    return len(history) - _best_epoch(history) >= patience


def _image_data(data: Any) -> Any:
    if not isinstance(data, zoo.ImageData):
        raise ValueError(f"training needs labelled images; {data.name!r} is {data.kind} data")
    if bool((data.labels < 0).any()):
        raise ValueError(f"training needs labelled images; {data.name!r} has unlabelled images")
    return data


def _penalty(model: nn.Module, spec: SparsitySpec, layers: list[str]) -> Any:
    if not spec.is_penalty:
        return None
    if spec.kind == "kl":
        return ActivationPenalty(model, kind="kl", weight=spec.weight, layers=layers,
                                 target=spec.target)
    return ActivationPenalty(model, kind=spec.kind, weight=spec.weight, layers=layers)


def _epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    penalty: Any,
    images: Tensor,
    labels: Tensor,
    batch_size: int,
    generator: torch.Generator,
    advance: Callable[..., None],
) -> tuple[float, int]:
    """One pass over the shuffled training set; returns the mean loss and the step count."""
    model.train()
    order = torch.randperm(len(labels), generator=generator)
    total, steps = 0.0, 0
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        logits = model(images[idx])  # (B, classes)
        loss = F.cross_entropy(logits, labels[idx])
        if penalty is not None:
            loss = loss + penalty.loss()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if penalty is not None:
            penalty.step()
        value = float(loss.detach())
        total += value
        steps += 1
        advance(loss=value)
    return total / max(steps, 1), steps


def _end_of_epoch(model: nn.Module) -> None:
    """Decay the boosting of every k-winners layer (once per epoch, as in the paper)."""
    for module in model.modules():
        update = getattr(module, "update_boost_strength", None)
        if callable(update):
            update()
