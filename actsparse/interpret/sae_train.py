"""Training a :class:`~actsparse.interpret.sae.SparseAutoencoder` on captured activations.

The recipe of Gao et al. (2024), scaled down for a CPU:

1. scale the inputs by one number so that ``E||s*x||^2 = d_in`` (every layer then gets the
   same learning rate), start ``b_pre`` at the geometric median of a sample and the encoder
   at a tenth of the decoder's transpose;
2. Adam on shuffled batches of vectors, gradients clipped; per step the parallel component
   of each decoder row's gradient is removed and the rows renormalised after the step;
3. a latent is *dead* once it has not fired for ``dead_tokens`` vectors; the AuxK loss makes
   the dead latents model the residual, which revives them;
4. the learning rate decays linearly to 0 over the last ``lr_decay`` fraction of the steps.

Under ``torch.distributed`` (a process group of several ranks) the training is data-parallel:
each rank passes its own vectors, ``batch_size`` is per rank, the gradients are averaged every
step and the dead-latent tracker counts every rank's vectors.

Runs are deterministic for a given seed and thread count. :func:`save_sae` writes the weights
as safetensors with the configuration as JSON in the file's metadata; :func:`load_sae` reads it.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from actsparse._progress import Bars
from actsparse.interpret import _sae_distributed as ddp
from actsparse.interpret.geometric_median import geometric_median
from actsparse.interpret.sae import SparseAutoencoder
from actsparse.interpret.sae_chunks import ActivationChunks

METADATA_KEY = "actsparse_sae"


@dataclass
class SAETrainResult:
    """A trained SAE with its training curve.

    Attributes:
        sae: the trained :class:`SparseAutoencoder` (eval mode).
        history: per logged step: ``step``, ``loss``, ``mse``, ``aux``, ``dead_fraction``
            (by the dead-latent tracker) and ``lr``.
        dead_fraction: latents that had not fired in the last ``dead_tokens`` vectors at the
            end of training.
        steps, vectors_seen, seconds: how much training was done.
        config: the training settings, for the record.
    """

    sae: SparseAutoencoder
    history: dict[str, list[float]]
    dead_fraction: float
    steps: int
    vectors_seen: int
    seconds: float
    config: dict[str, Any] = field(default_factory=dict)


def input_scale(x: Tensor) -> float:
    """The factor ``s`` with ``mean ||s*x||^2 = d_in`` (Gao et al.'s input normalisation).

    Example:
        >>> round(input_scale(torch.full((10, 4), 3.0)), 4)
        0.3333
    """
    mean_sq = float(x.double().pow(2).sum(-1).mean())
    if not math.isfinite(mean_sq) or mean_sq <= 0:
        raise ValueError("the activations are all zero (or not finite): there is nothing to "
                         "learn a sparse autoencoder of")
    return math.sqrt(x.shape[-1] / mean_sq)


def train_sae(
    activations: Tensor | ActivationChunks,
    *,
    targets: Tensor | None = None,
    architecture: str = "topk",
    n_latents: int | None = None,
    expansion: float = 8.0,
    k: int = 32,
    k_aux: int | None = None,
    aux_coef: float = 1 / 32,
    l0_coef: float = 1e-3,
    bandwidth: float = 0.05,
    prefixes: Sequence[int] | None = None,
    steps: int | None = None,
    epochs: float = 10.0,
    batch_size: int = 1024,
    lr: float = 4e-3,
    lr_decay: float = 0.2,
    dead_tokens: int = 10_000,
    grad_clip: float | None = 1.0,
    normalize: bool = True,
    encoder_init: float = 0.1,
    median_sample: int = 4096,
    seed: int = 0,
    log_every: int = 10,
    progress: bool = False,
) -> SAETrainResult:
    """Train a sparse autoencoder (TopK by default) or transcoder on ``activations``.

    Args:
        activations: the training vectors ``(N, d_in)`` (e.g. from
            :func:`~actsparse.interpret.capture.capture_activations`), or
            :class:`~actsparse.interpret.sae_chunks.ActivationChunks` on disk for more than
            fits in memory (the input scale and ``b_pre`` then come from a sample of
            ``median_sample`` vectors across its files).
        targets: for a transcoder, the ``(N, d_out)`` vectors to predict from the
            activations (row ``i`` the target of row ``i``; e.g. a module's output for its
            input, :func:`~actsparse.interpret.capture.capture_pairs`); they get their own
            input scale and geometric median. None: an autoencoder.
        architecture: ``"topk"``, ``"batchtopk"``, ``"jumprelu"`` or ``"matryoshka"`` (see
            :class:`SparseAutoencoder`).
        n_latents: dictionary size; default ``round(expansion * d_in)``.
        expansion: latents per input dimension when ``n_latents`` is not given.
        k, k_aux, aux_coef, l0_coef, bandwidth, prefixes: see :class:`SparseAutoencoder`.
        steps: optimiser steps; default ``epochs`` passes over the data.
        epochs: passes over the data when ``steps`` is not given.
        batch_size: vectors per step.
        lr: Adam's learning rate (inputs are scaled, so one value fits most layers).
        lr_decay: fraction of the steps, at the end, over which lr falls linearly to 0.
        dead_tokens: a latent that has not fired for this many vectors is dead.
        grad_clip: clip the gradient norm to this (None: no clipping).
        normalize: scale inputs to ``E||s*x||^2 = d_in``; else ``s = 1``.
        encoder_init: the encoder starts as the decoder's transpose times this.
        median_sample: vectors used for the geometric median that starts ``b_pre``.
        seed: seeds the initialisation and the shuffling.
        log_every: record the history every this many steps.
        progress: show a progress bar (rich, when installed).

    Example:
        >>> x = torch.randn(512, 16) @ torch.randn(16, 16)
        >>> result = train_sae(x, expansion=4, k=4, steps=20, batch_size=128)
        >>> losses = result.history["loss"]
        >>> result.sae.n_latents, result.steps, losses[-1] < losses[0]
        (64, 20, True)
        >>> jump = train_sae(x, architecture="jumprelu", expansion=4, k=4, steps=5,
        ...                  batch_size=128)
        >>> jump.sae.architecture, len(jump.history["l0"])
        ('jumprelu', 2)
    """
    ranks = ddp.world_size()
    gen = torch.Generator().manual_seed(seed + 7919 * ddp.rank())  # own shuffle per rank
    if isinstance(activations, ActivationChunks):
        n, d_in = len(activations), activations.d_in
        x = _check_activations(activations.sample(median_sample, gen))  # for the statistics
    else:
        x = _check_activations(activations)
        n, d_in = x.shape
    y = _check_targets(targets, activations, ranks)
    n_latents = n_latents if n_latents is not None else _latents_from(expansion, d_in)
    _check_training(batch_size, lr, lr_decay, dead_tokens, steps, epochs, log_every)
    sae = SparseAutoencoder(d_in, n_latents, k, k_aux=k_aux, aux_coef=aux_coef, seed=seed,
                            encoder_init=encoder_init, architecture=architecture,
                            d_out=None if y is None else y.shape[1], prefixes=prefixes,
                            l0_coef=l0_coef, bandwidth=bandwidth)
    with torch.no_grad():
        stats = x if ranks == 1 else ddp.gather_rows(
            x[torch.randperm(x.shape[0], generator=gen)[:median_sample]])
        scale = input_scale(stats) if normalize else 1.0
        sae.input_scale.fill_(scale)
        picked = torch.randperm(stats.shape[0], generator=gen)[:median_sample]
        median = geometric_median((stats[picked] * scale).double()).float()
        sae.b_centre.copy_(median)
        if y is not None:  # a transcoder: the decoder side has its own scale and median
            out_scale = input_scale(y) if normalize else 1.0
            sae.output_scale.fill_(out_scale)
            sae.b_pre.copy_(geometric_median((y[picked] * out_scale).double()).float())
        if architecture == "jumprelu":
            sae.init_thresholds_(stats[picked])
    batch = min(batch_size, n)
    per_epoch = math.ceil(n / batch)
    total = steps if steps is not None else max(1, math.ceil(epochs * per_epoch))
    if ranks > 1:
        total = ddp.same_on_all(total, "the number of steps (pass steps=)")
        ddp.same_on_all(batch, "the batch size per rank")
    batches = (((rows, None) for rows in activations.batches(batch, gen))
               if isinstance(activations, ActivationChunks) else _shuffled(x, batch, gen, y))
    opt = torch.optim.Adam(sae.parameters(), lr=lr)
    since_fired = torch.zeros(n_latents, dtype=torch.long)
    history: dict[str, list[float]] = {k_: [] for k_ in
                                       ("step", "loss", "mse", "aux", "l0", "dead_fraction", "lr")}
    started = time.perf_counter()
    sae.train()
    with Bars("loss {loss:.4f} dead {dead:.1%}", enabled=progress) as bars:
        task = bars.add("training SAE", total=total, loss=float("nan"), dead=0.0)
        for step in range(total):
            rows, goal = next(batches)
            dead = since_fired >= dead_tokens
            now = lr * _lr_factor(step, total, lr_decay)
            for group in opt.param_groups:
                group["lr"] = now
            out = sae(rows, dead, goal)
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            if ranks > 1:
                ddp.average_grads(sae.parameters())
            sae.remove_parallel_grads_()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(sae.parameters(), grad_clip)
            opt.step()
            sae.normalize_decoder_()
            fired = torch.zeros(n_latents, dtype=torch.bool)
            fired[out.indices[out.values > 0]] = True
            if ranks > 1:
                fired = ddp.fired_anywhere(fired)
            since_fired += rows.shape[0] * ranks
            since_fired[fired] = 0
            if step % log_every == 0 or step == total - 1:
                loss = float(out.loss.detach())
                for key, value in (("step", step), ("loss", loss),
                                   ("mse", float(out.mse.detach())),
                                   ("aux", float(out.aux.detach())),
                                   ("l0", float(out.l0.detach())),
                                   ("dead_fraction", float(dead.float().mean())), ("lr", now)):
                    history[key].append(float(value))
                bars.update(task, completed=step + 1, loss=loss, dead=float(dead.float().mean()))
    if architecture in ("batchtopk", "matryoshka"):  # inference threshold: mean L0 k on a sample
        same = torch.Generator().manual_seed(seed)  # one sample on every rank
        sae.calibrate_threshold_(stats[torch.randperm(stats.shape[0], generator=same)[:4096]])
    sae.eval()
    config = {"architecture": architecture, "transcoder": y is not None,
              "n_latents": n_latents, "k": k, "k_aux": sae.k_aux, "aux_coef": aux_coef,
              "steps": total, "batch_size": batch, "lr": lr, "lr_decay": lr_decay,
              "dead_tokens": dead_tokens, "grad_clip": grad_clip, "normalize": normalize,
              "encoder_init": encoder_init,
              "input_scale": scale, "median_sample": median_sample, "seed": seed,
              "vectors": n, "epochs": total * batch / n, "ranks": ranks}
    return SAETrainResult(sae, history, float((since_fired >= dead_tokens).float().mean()),
                          total, total * batch, time.perf_counter() - started, config)


def save_sae(sae: SparseAutoencoder, path: str | os.PathLike[str],
             meta: dict[str, Any] | None = None) -> Path:
    """Write ``sae`` to a ``.safetensors`` file; its config (and ``meta``) as JSON metadata.

    Example:
        >>> import tempfile
        >>> path = save_sae(SparseAutoencoder(4, 8, k=2), tempfile.mkdtemp() + "/sae.safetensors",
        ...                 meta={"layer": "fc1"})
        >>> load_sae(path).n_latents, sae_metadata(path)["meta"]
        (8, {'layer': 'fc1'})
    """
    from safetensors.torch import save_file

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tensors = {name: t.detach().contiguous().cpu() for name, t in sae.state_dict().items()}
    header = {"config": sae.config(), "meta": meta or {}}
    save_file(tensors, str(out), metadata={METADATA_KEY: json.dumps(header, default=str)})
    return out


def sae_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``{"config": ..., "meta": ...}`` stored by :func:`save_sae`."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        raw = (f.metadata() or {}).get(METADATA_KEY)
    if raw is None:
        raise ValueError(f"{path} is a safetensors file but not a saved sparse autoencoder "
                         f"(no {METADATA_KEY!r} metadata)")
    header: dict[str, Any] = json.loads(raw)
    return header


def load_sae(path: str | os.PathLike[str]) -> SparseAutoencoder:
    """Load a sparse autoencoder written by :func:`save_sae` (eval mode)."""
    from safetensors.torch import load_file

    if not Path(path).is_file():
        raise FileNotFoundError(f"no sparse autoencoder file at {path}")
    config = sae_metadata(path)["config"]
    sae = SparseAutoencoder(**config)
    sae.load_state_dict(load_file(str(path)))
    return sae.eval()


def _shuffled(x: Tensor, batch: int, gen: torch.Generator,
              y: Tensor | None = None) -> Iterator[tuple[Tensor, Tensor | None]]:
    """Batches of ``x`` (and the same rows of ``y``) in a random order, reshuffled each epoch
    (its tail left out)."""
    order, cursor = torch.randperm(x.shape[0], generator=gen), 0
    while True:
        if cursor + batch > x.shape[0]:
            order, cursor = torch.randperm(x.shape[0], generator=gen), 0
        rows = order[cursor:cursor + batch]
        yield x[rows], None if y is None else y[rows]
        cursor += batch


def _check_targets(targets: Tensor | None, activations: Tensor | ActivationChunks,
                   ranks: int) -> Tensor | None:
    if targets is None:
        return None
    if isinstance(activations, ActivationChunks) or ranks > 1:
        raise ValueError("a transcoder (targets=) trains on in-memory tensors in one process; "
                         "pass activations and targets as tensors and no process group")
    y = _check_activations(targets)
    if y.shape[0] != activations.shape[0]:
        raise ValueError(f"targets has {y.shape[0]} rows but activations has "
                         f"{activations.shape[0]}: row i of targets is the target of row i")
    return y


def _lr_factor(step: int, total: int, decay: float) -> float:
    start = total * (1.0 - decay)
    if decay <= 0 or step < start:
        return 1.0
    return max(0.0, (total - step) / (total - start))


def _latents_from(expansion: float, d_in: int) -> int:
    if not expansion > 0:
        raise ValueError(f"expansion must be positive, got {expansion!r}")
    return max(1, round(expansion * d_in))


def _check_activations(activations: Tensor) -> Tensor:
    if not isinstance(activations, Tensor) or not activations.is_floating_point():
        raise TypeError("activations must be a floating-point tensor of shape (N, d_in)")
    if activations.dim() != 2 or activations.shape[0] < 1 or activations.shape[1] < 1:
        raise ValueError(f"activations must have shape (N, d_in) with N, d_in >= 1, got "
                         f"{tuple(activations.shape)}")
    if not bool(torch.isfinite(activations).all()):
        raise ValueError("activations contain NaN or inf")
    return activations.float()


def _check_training(batch_size: int, lr: float, lr_decay: float, dead_tokens: int,
                    steps: int | None, epochs: float, log_every: int) -> None:
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}")
    if not 0 <= lr_decay <= 1:
        raise ValueError(f"lr_decay is a fraction of the steps in [0, 1], got {lr_decay}")
    if dead_tokens < 1:
        raise ValueError(f"dead_tokens must be at least 1, got {dead_tokens}")
    if steps is not None and steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if steps is None and not epochs > 0:
        raise ValueError(f"epochs must be positive, got {epochs}")
    if log_every < 1:
        raise ValueError(f"log_every must be at least 1, got {log_every}")
