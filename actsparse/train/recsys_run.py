"""``actsparse train --model mult-dae``: a Mult-DAE recommender with a sparse hidden code.

The data are ratings (``movielens-100k`` or ``movielens:PATH``) under the protocol of
:mod:`actsparse.zoo.ratings_split` (per-user 80/10/10, seeded by the run's seed). The model is
:class:`~actsparse.train.mult_dae.MultDAE` [I-600-I]; ``--sparsity`` acts on its hidden code
``act1``:

- ``kwta:D``: tanh, then k-winners-take-all (``KWinners``, boosting decayed once per epoch);
- ``topk:K``: tanh, then ``TopK(K)``;
- ``l1:W`` (also ``hoyer:W``, ``kl:RHO:W``): the induce ``ActivationPenalty`` on ``act1``;
- ``dropout:P``: dropout on the code after the tanh (the input dropout of Mult-DAE stays).

Each epoch the validation NDCG@20 is measured and the best epoch's weights kept, as in
:func:`~actsparse.train.mult_dae.fit_mult_dae`. The run folder holds ``checkpoint.safetensors``
(the last epoch: weights, optimizer, both generators; rewritten atomically after every epoch,
so ``resume=True`` continues after the last complete epoch and ends as an uninterrupted run
would), ``best.safetensors`` (the weights of the best validation epoch, atomically too) and
at the end ``metrics.json``: the test ``recall@10/20`` and ``ndcg@10/20`` of the best epoch,
the code's ``density`` (a profile of ``act1`` while ranking the test users, as ``train`` writes
it for the other models), its ``near_zero`` fractions (tanh is never exactly 0: the ``0.01``
fraction is what an L1 penalty moves), and ``baselines``: EASE, ItemKNN and most-popular on
the same split (:func:`~actsparse.zoo.recsys_baselines.tuned_baselines`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from actsparse._hooks import evaluating
from actsparse._progress import Bars
from actsparse.induce.kwinners import KWinners
from actsparse.induce.penalty import ActivationPenalty
from actsparse.induce.topk import TopK
from actsparse.measure import Profiler
from actsparse.train.checkpoint import (
    FILE_NAME,
    CheckpointError,
    check_same_run,
    load_checkpoint,
    restore,
    save_checkpoint,
)
from actsparse.train.mult_dae import MultDAE, multinomial_loss
from actsparse.train.run_metrics import densities, write_metrics
from actsparse.train.spec import SparsitySpec, SparsitySpecError, parse_sparsity
from actsparse.zoo.ratings import is_ratings_name, load_ratings
from actsparse.zoo.ratings_eval import ranking_metrics
from actsparse.zoo.ratings_split import RatingsSplit, split_per_user
from actsparse.zoo.recsys_baselines import tuned_baselines

MODEL = "mult-dae"
BEST_FILE = "best.safetensors"
LAYER = "act1"
NEAR_ZERO = 0.01  # |a| < 0.01 counts as near zero in metrics["near_zero"]


@dataclass(frozen=True)
class RecsysConfig:
    """Everything that decides a ``mult-dae`` run's result (the output folder aside).

    Defaults are those of :class:`~actsparse.train.mult_dae.MultDAEConfig` (Liang et al.'s
    where they give one): 100 epochs of Adam at 1e-3, batches of 128 users, no decay.

    Example:
        >>> RecsysConfig(sparsity="kwta:0.1").check().density
        0.1
    """

    model: str = MODEL
    data: str = "movielens-100k"
    sparsity: str = "none"
    epochs: int = 100
    seed: int = 0
    batch_size: int = 128
    lr: float = 1e-3
    lr_decay: float = 1.0  # per epoch, as TrainConfig's
    hidden: int = 600
    input_dropout: float = 0.5
    val: float = 0.1
    test: float = 0.1

    def check(self) -> SparsitySpec:
        """Validate the settings; return the parsed sparsity spec."""
        if self.model != MODEL:
            raise ValueError(f"RecsysConfig trains --model {MODEL}, not {self.model!r}")
        if not is_ratings_name(self.data):
            raise ValueError(f"--model {MODEL} trains on ratings (movielens-100k or "
                             f"movielens:PATH); {self.data!r} is not ratings data")
        for name in ("epochs", "batch_size", "hidden"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1], got {self.lr_decay}")
        if not 0 <= self.input_dropout < 1:
            raise ValueError(f"input_dropout must be in [0, 1), got {self.input_dropout}")
        spec = parse_sparsity(self.sparsity)
        if spec.kind == "sc":
            raise SparsitySpecError(f"sparsity '{spec}' is a cnn front end; --model {MODEL} "
                                    "takes none, dropout, l1, hoyer, kl, kwta or topk")
        if spec.kind == "topk" and spec.k > self.hidden:
            raise SparsitySpecError(f"sparsity '{spec}': k={spec.k} is larger than the code, "
                                    f"which has {self.hidden} units; choose K <= {self.hidden}")
        return spec

    def identity(self) -> dict[str, Any]:
        """The settings a checkpoint must share to be resumed (all but ``epochs``)."""
        d = asdict(self)
        d.pop("epochs")
        return d


def build_mult_dae(num_items: int, spec: SparsitySpec, hidden: int = 600,
                   input_dropout: float = 0.5) -> MultDAE:
    """A Mult-DAE whose hidden code ``act1`` is made sparse as ``spec`` asks (module notes).

    Example:
        >>> net = build_mult_dae(50, parse_sparsity("kwta:0.1"), hidden=20)
        >>> net.act1
        Sequential(
          (0): Tanh()
          (1): KWinners(n=20, density=0.1, k=2, k_inference=2, boost_strength=1,
                        boost_strength_factor=0.9, duty_cycle_period=1000, k_inference_factor=1)
        )
    """
    act: nn.Module = nn.Tanh()
    if spec.kind == "kwta":
        act = nn.Sequential(nn.Tanh(), KWinners(hidden, spec.density))
    elif spec.kind == "topk":
        act = nn.Sequential(nn.Tanh(), TopK(spec.k))
    code_dropout = spec.p if spec.kind == "dropout" else 0.0
    return MultDAE(num_items, hidden, input_dropout, act=act, code_dropout=code_dropout)


def train_recsys(
    config: RecsysConfig,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    command: str | None = None,
    on_epoch: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Train ``config``'s Mult-DAE; write the checkpoints and ``metrics.json`` (module notes).

    Args and return value as :func:`actsparse.train.loop.train`.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "u.data"
        >>> _ = path.write_text("".join(f"{u}\\t{(u * 7 + j) % 12}\\t5\\t0\\n"
        ...                             for u in range(20) for j in range(6)))
        >>> m = train_recsys(RecsysConfig(data=f"movielens:{path}", sparsity="kwta:0.1",
        ...                               epochs=2, hidden=20), path.parent / "run",
        ...                  progress=False)
        >>> m["density"], sorted(m["baselines"])
        ({'act1': 0.1}, ['ease', 'itemknn', 'popular'])
    """
    spec = config.check()
    out = Path(out)
    data = load_ratings(config.data)
    split = split_per_user(data, val=config.val, test=config.test, seed=config.seed)
    torch.manual_seed(config.seed)
    model = build_mult_dae(split.num_items, spec, config.hidden, config.input_dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    run = json.loads(json.dumps({**config.identity(), "sparsity": str(spec),
                                 "users": data.num_users, "items": data.num_items,
                                 "interactions": len(data)}))
    ckpt_path, best_path = out / FILE_NAME, out / BEST_FILE
    history: list[dict[str, Any]] = []
    if resume and ckpt_path.exists():
        history = _resume(ckpt_path, run, config.epochs, model, optimizer, generator)
    best = max((h["validation_ndcg@20"] for h in history), default=float("-inf"))
    penalty = None
    if spec.is_penalty:
        target = spec.target if spec.kind == "kl" else None
        penalty = ActivationPenalty(model, kind=spec.kind, weight=spec.weight, layers=[LAYER],
                                    target=target)
    if penalty is not None:
        penalty.step_count = sum(h["steps"] for h in history)
    users = split.train.shape[0]
    try:
        with Bars("loss {loss:.4f}", enabled=progress) as bars:
            for epoch in range(len(history), config.epochs):
                t0 = time.perf_counter()
                for group in optimizer.param_groups:
                    group["lr"] = config.lr * config.lr_decay**epoch
                task = bars.add(f"epoch {epoch + 1}/{config.epochs}", loss=float("nan"),
                                total=-(-users // config.batch_size))
                model.train()
                total, steps = 0.0, 0
                for idx in torch.randperm(users, generator=generator).split(config.batch_size):
                    x = split.train[idx]  # (B, I)
                    loss = multinomial_loss(model(x), x)
                    if penalty is not None:
                        loss = loss + penalty.loss()
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    if penalty is not None:
                        penalty.step()
                    total, steps = total + float(loss.detach()), steps + 1
                    bars.update(task, advance=1, loss=float(loss.detach()))
                _end_of_epoch(model)
                val = _validation_ndcg(model, split)
                if val > best or epoch == 0:  # the first epoch is kept whatever its score
                    best = val
                    _save_weights(best_path, model, epoch + 1)
                history.append({"epoch": epoch + 1, "loss": total / max(steps, 1),
                                "steps": steps, "validation_ndcg@20": val,
                                "seconds": time.perf_counter() - t0})
                save_checkpoint(ckpt_path, epoch=epoch + 1, run=run, model=model,
                                optimizer=optimizer, generator=generator, history=history)
                if on_epoch is not None:
                    on_epoch(epoch + 1)
    finally:
        if penalty is not None:
            penalty.remove()

    best_epoch = _load_weights(best_path, model)
    t0 = time.perf_counter()
    metrics: dict[str, Any] = _test_metrics(model, split)
    eval_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    baselines = tuned_baselines(split)
    metrics.update(
        best_epoch=best_epoch,
        **{"validation_ndcg@20": history[best_epoch - 1]["validation_ndcg@20"]},
        baselines=baselines, baselines_seconds=time.perf_counter() - t0,
        seconds=sum(h["seconds"] for h in history), eval_seconds=eval_seconds,
        command=command, history=history, sparsity=str(spec), model=MODEL, data=config.data,
        epochs=config.epochs, config=asdict(config),
        users=data.num_users, items=data.num_items, interactions=len(data),
    )
    write_metrics(out, metrics)
    return metrics


def _resume(path: Path, run: dict[str, Any], epochs: int, model: nn.Module,
            optimizer: torch.optim.Optimizer, generator: torch.Generator,
            ) -> list[dict[str, Any]]:
    """Restore the checkpoint at ``path`` after checking it is of this run; its history."""
    ckpt = load_checkpoint(path)
    check_same_run(ckpt, run, path)
    if ckpt.epoch > epochs:
        raise CheckpointError(
            f"checkpoint {path} has {ckpt.epoch} epochs, more than the {epochs} asked for; "
            f"ask for --epochs {ckpt.epoch} or more")
    if not (path.parent / BEST_FILE).is_file():
        raise CheckpointError(f"{path.parent / BEST_FILE} is missing: the run folder is "
                              "incomplete; write to another --out")
    restore(ckpt, model, optimizer, generator)
    return ckpt.history


def _validation_ndcg(model: MultDAE, split: RatingsSplit) -> float:
    return ranking_metrics(model.score(split.train), split.train, split.val)["ndcg@20"]


def _test_metrics(model: MultDAE, split: RatingsSplit) -> dict[str, Any]:
    """Test ranking metrics, and the code's density and near-zero fraction on the test users."""
    seen = split.test_input()
    with evaluating(model), torch.inference_mode(), Profiler(model, [LAYER]) as prof:
        scores = model(seen)  # (U, I)
    result = prof.result
    return {
        **ranking_metrics(scores, seen, split.test),
        "density": densities(result),
        "near_zero": {layer.name: {f"{NEAR_ZERO:g}": layer.near_zero(NEAR_ZERO)}
                      for layer in result},
    }


def _save_weights(path: Path, model: nn.Module, epoch: int) -> None:
    """The model's state (a k-WTA's duty cycles and boost too) to ``path``, atomically."""
    state = model.state_dict()
    tensors = {k: v.detach().cpu().contiguous().clone()
               for k, v in state.items() if isinstance(v, torch.Tensor)}
    extra = {k: v for k, v in state.items() if not isinstance(v, torch.Tensor)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file(tensors, str(tmp),
                  metadata={"epoch": str(epoch), "model_extra": json.dumps(extra)})
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _load_weights(path: Path, model: nn.Module) -> int:
    """Load the state saved by :func:`_save_weights`; return its epoch."""
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    state: dict[str, Any] = {**load_file(str(path)), **json.loads(meta["model_extra"])}
    model.load_state_dict(state, strict=True)
    return int(meta["epoch"])


def _end_of_epoch(model: nn.Module) -> None:
    """Decay the boosting of every k-winners layer (once per epoch, as in the paper)."""
    for module in model.modules():
        update = getattr(module, "update_boost_strength", None)
        if callable(update):
            update()
