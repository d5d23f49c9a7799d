"""Training every variant x seed of a study, each in its own folder, reusing what is done.

A study folder holds ``runs/<variant>/seed<N>/`` with the files of :func:`actsparse.train.train`
(``checkpoint.safetensors`` after every epoch, ``metrics.json`` at the end). A run is finished
when its ``metrics.json`` records exactly the config asked for; it is then left alone. A run
with a checkpoint but no matching ``metrics.json`` (interrupted, or asked now for more epochs)
resumes after its last complete epoch, and ends as an uninterrupted run would (see
``actsparse.train.loop``). So a study can be interrupted and started again, given more seeds
(the finished seeds are kept) or more epochs (each run goes on from its checkpoint).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from actsparse.study.variants import BATCH_SIZE, LR, LR_DECAY, MODEL, Variant
from actsparse.train.checkpoint import FILE_NAME, load_checkpoint
from actsparse.train.loop import TrainConfig, train
from actsparse.train.run_metrics import METRICS_FILE


def run_config(data: str, variant: Variant, seed: int, epochs: int,
               train_limit: int | None = None, test_limit: int | None = None) -> TrainConfig:
    """The training config of one run: the study's shared budget with the variant's spec.

    Example:
        >>> from actsparse.study.variants import VARIANTS
        >>> cfg = run_config("mnist", VARIANTS["l1"], seed=2, epochs=3)
        >>> cfg.sparsity, cfg.seed, cfg.lr, cfg.batch_size
        ('l1:0.3', 2, 0.001, 128)
    """
    return TrainConfig(model=MODEL, data=data, sparsity=variant.spec, epochs=epochs, seed=seed,
                       batch_size=BATCH_SIZE, lr=LR, lr_decay=LR_DECAY,
                       train_limit=train_limit, test_limit=test_limit)


def run_dir(out: str | Path, variant: str, seed: int) -> Path:
    """``out/runs/<variant>/seed<N>``.

    Example:
        >>> run_dir("study", "kwta", 1).as_posix()
        'study/runs/kwta/seed1'
    """
    return Path(out) / "runs" / variant / f"seed{seed}"


def finished_metrics(path: str | Path, config: Any) -> dict[str, Any] | None:
    """The run's ``metrics.json`` if it records exactly ``config`` (a dataclass), else None.

    Example:
        >>> import tempfile
        >>> finished_metrics(tempfile.mkdtemp(), TrainConfig()) is None
        True
    """
    file = Path(path) / METRICS_FILE
    if not file.is_file():
        return None
    try:
        metrics: dict[str, Any] = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError):
        return None  # a damaged file: the run is trained (or resumed) again
    want = json.loads(json.dumps(asdict(config)))
    return metrics if metrics.get("config") == want else None


def checkpoint_epoch(path: str | Path) -> int:
    """The last complete epoch saved in the run folder ``path`` (0 when there is none).

    Example:
        >>> import tempfile
        >>> checkpoint_epoch(tempfile.mkdtemp())
        0
    """
    file = Path(path) / FILE_NAME
    return load_checkpoint(file).epoch if file.is_file() else 0


def ensure_run(path: str | Path, config: Any, *, progress: bool = False,
               trainer: Callable[..., dict[str, Any]] = train) -> tuple[dict[str, Any], str]:
    """Train, resume or reuse the run in ``path``; its metrics and what was done.

    ``config`` is a :class:`TrainConfig` trained by ``trainer`` (default :func:`train`), or
    another workload's config with its trainer of the same signature (``RecsysConfig`` with
    :func:`actsparse.train.recsys_run.train_recsys`).

    The status is ``'done'`` (finished before, untouched), ``'trained'`` (from scratch) or
    ``'resumed from epoch E'``.

    Example:
        >>> import tempfile
        >>> from actsparse.study.variants import VARIANTS
        >>> cfg = run_config("digits", VARIANTS["dense"], 0, 1, train_limit=64, test_limit=32)
        >>> folder = tempfile.mkdtemp()
        >>> [ensure_run(folder, cfg)[1] for _ in range(2)]
        ['trained', 'done']
    """
    path = Path(path)
    metrics = finished_metrics(path, config)
    if metrics is not None:
        return metrics, "done"
    start = checkpoint_epoch(path)
    metrics = trainer(config, path, resume=True, progress=progress,
                      command=f"actsparse study (run {path})")
    return metrics, "trained" if start == 0 else f"resumed from epoch {start}"
