"""Training checkpoints: one safetensors file per run, rewritten atomically after every epoch.

The file holds the model weights, the optimizer state, the random number generator states
(torch's global one and the shuffling generator), the finished epoch, and in its JSON metadata
what identifies the run (model config, sparsity spec, data, seed, optimizer settings), so that
``--resume`` refuses a checkpoint of another run with a clear message.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import Tensor, nn

FORMAT = "actsparse.train.checkpoint"
SCHEMA_VERSION = 1
FILE_NAME = "checkpoint.safetensors"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that belongs to another run."""


@dataclass
class Checkpoint:
    """What a checkpoint file holds, read back by :func:`load_checkpoint`."""

    epoch: int
    run: dict[str, Any]
    model: dict[str, Any]
    optimizer: dict[str, Any]
    rng: dict[str, Tensor]
    history: list[dict[str, Any]] = field(default_factory=list)


def save_checkpoint(
    path: str | Path,
    *,
    epoch: int,
    run: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    history: list[dict[str, Any]] | None = None,
) -> Path:
    """Write a checkpoint to ``path`` atomically (a temporary file, then ``os.replace``).

    A run killed while writing leaves the previous checkpoint whole.

    Example:
        >>> import tempfile, torch
        >>> net = torch.nn.Linear(2, 2)
        >>> opt = torch.optim.Adam(net.parameters())
        >>> path = Path(tempfile.mkdtemp()) / FILE_NAME
        >>> _ = save_checkpoint(path, epoch=1, run={"model": "toy"}, model=net, optimizer=opt,
        ...                     generator=torch.Generator().manual_seed(0))
        >>> ckpt = load_checkpoint(path)
        >>> ckpt.epoch, ckpt.run, sorted(ckpt.model)
        (1, {'model': 'toy'}, ['bias', 'weight'])
    """
    path = Path(path)
    tensors: dict[str, Tensor] = {}
    extra: dict[str, Any] = {}  # non-tensor entries (a module's extra state, e.g. a k-WTA boost)
    for key, value in model.state_dict().items():
        if isinstance(value, Tensor):
            tensors[f"model.{key}"] = value.detach().cpu().contiguous().clone()
        else:
            extra[key] = value
    opt_state = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for pid, state in opt_state["state"].items():
        for key, value in state.items():
            if isinstance(value, Tensor):
                tensors[f"optim.{pid}.{key}"] = value.detach().cpu().contiguous().clone()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.shuffle"] = generator.get_state()
    meta = {
        "format": FORMAT,
        "schema_version": str(SCHEMA_VERSION),
        "epoch": str(epoch),
        "run": json.dumps(run),
        "model_extra": json.dumps(extra),
        "optim_groups": json.dumps(opt_state["param_groups"]),
        "optim_scalars": json.dumps(scalars),
        "history": json.dumps(history or []),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file(tensors, str(tmp), metadata=meta)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; see its example.

    Raises :class:`CheckpointError` when the file is not a training checkpoint of this version.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint: {err}") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an actsparse training checkpoint "
                              f"(format {meta.get('format')!r})")
    if meta.get("schema_version") != str(SCHEMA_VERSION):
        raise CheckpointError(f"{path} has checkpoint schema {meta.get('schema_version')}; this "
                              f"version of actsparse reads schema {SCHEMA_VERSION}")
    model: dict[str, Any] = {k[len("model."):]: v for k, v in tensors.items()
                             if k.startswith("model.")}
    model.update(json.loads(meta["model_extra"]))
    state: dict[int, dict[str, Any]] = {}
    for pid, values in json.loads(meta["optim_scalars"]).items():
        state.setdefault(int(pid), {}).update(values)
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    optimizer = {"state": state, "param_groups": json.loads(meta["optim_groups"])}
    rng = {k[len("rng."):]: v for k, v in tensors.items() if k.startswith("rng.")}
    return Checkpoint(int(meta["epoch"]), json.loads(meta["run"]), model, optimizer, rng,
                      json.loads(meta["history"]))


def check_same_run(ckpt: Checkpoint, run: dict[str, Any], path: str | Path) -> None:
    """Raise :class:`CheckpointError` listing what differs when ``ckpt`` is of another run.

    Example:
        >>> ckpt = Checkpoint(1, {"model": "cnn", "sparsity": "kwta:0.1"}, {}, {}, {})
        >>> check_same_run(ckpt, {"model": "mlp", "sparsity": "kwta:0.1"}, "run/ckpt")
        Traceback (most recent call last):
        ...
        actsparse.train.checkpoint.CheckpointError: checkpoint run/ckpt is of another run: model
        is 'cnn' there but 'mlp' here; resume with the same settings, or write to another --out
    """
    keys = sorted(set(ckpt.run) | set(run))
    diffs = [f"{k} is {ckpt.run.get(k)!r} there but {run.get(k)!r} here"
             for k in keys if ckpt.run.get(k) != run.get(k)]
    if diffs:
        raise CheckpointError(f"checkpoint {path} is of another run: {'; '.join(diffs)}; resume "
                              "with the same settings, or write to another --out")


def restore(
    ckpt: Checkpoint, model: nn.Module, optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> None:
    """Put the weights, optimizer state and RNG states of ``ckpt`` back in place.

    Example:
        >>> import tempfile
        >>> net, gen = torch.nn.Linear(2, 2), torch.Generator().manual_seed(0)
        >>> opt = torch.optim.Adam(net.parameters())
        >>> path = save_checkpoint(Path(tempfile.mkdtemp()) / FILE_NAME, epoch=1, run={},
        ...                        model=net, optimizer=opt, generator=gen)
        >>> other = torch.nn.Linear(2, 2)
        >>> restore(load_checkpoint(path), other, torch.optim.Adam(other.parameters()), gen)
        >>> torch.equal(other.weight, net.weight)
        True
    """
    try:
        model.load_state_dict(ckpt.model)
        optimizer.load_state_dict(ckpt.optimizer)
    except (RuntimeError, ValueError, KeyError) as err:
        raise CheckpointError(f"the checkpoint does not fit this model: {err}") from None
    torch.set_rng_state(ckpt.rng["torch"])
    generator.set_state(ckpt.rng["shuffle"])
