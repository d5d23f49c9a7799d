"""Our TopK SAE recipe against SAELens's on the same captured activations.

    pip install -e ".[saelens]"      # SAELens only for this benchmark
    .venv/bin/python -m benchmarks.sae_vs_saelens --seeds 0 1 2

For MiniLM ``encoder.layer.3.output`` and SmolLM2 ``model.layers.15.mlp`` the vectors are
captured as ``actsparse sae`` captures them (zoo 'text' train split for training, test split
held out; 12,288 / 3,072 vectors). Both sides then train a TopK SAE of expansion 8, k = 32,
for the same steps of 1,024 vectors:

- ours: ``actsparse.train_sae`` with its defaults;
- SAELens: ``TopKTrainingSAE`` (its defaults: decoder rows at norm 0.1, tied encoder, top-k
  on decoder-norm-scaled pre-activations, AuxK) under its ``SAETrainer`` (Adam, gradient norm
  clipped to 1, constant learning rate then a linear decay over the last 20% of the steps, as
  ours). SAELens's learning rate is the best of ``--saelens-lrs`` on held-out FVU of the first
  seed, chosen per model: a choice made on the test vectors, which can only favour SAELens.

Reported per seed: held-out FVU, L0, dead latents (never fired on the training vectors) and
seconds per step; means with 95% t-intervals over seeds.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import statistics
import time
from typing import Any

import torch

from actsparse import zoo
from actsparse.cli.sae import Captured, _splits
from actsparse.interpret.sae_train import train_sae
from benchmarks._timing import write_json

MODELS = {"minilm": "encoder.layer.3.output", "smollm2": "model.layers.15.mlp"}
EXPANSION, K, BATCH = 8, 32, 1024


def capture(name: str, train: int, test: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Train and held-out vectors of the model's layer, as ``actsparse sae`` captures them."""
    zm = zoo.load_model(name)
    tr, te = _splits("text", None)
    data = Captured(zm, MODELS[name], tr, te, batch_size=16, max_length=256, seed=0)
    return data.vectors(tr, train), data.vectors(te, test)


def scores(encode: Any, decode: Any, x_train: torch.Tensor, x_test: torch.Tensor,
           n_latents: int) -> dict[str, float]:
    with torch.no_grad():
        codes = encode(x_test)
        err = (x_test - decode(codes)).pow(2).sum()
        fvu = float(err / (x_test - x_test.mean(0)).pow(2).sum())
        fired = torch.zeros(n_latents, dtype=torch.bool)
        for i in range(0, len(x_train), 2048):
            fired |= (encode(x_train[i:i + 2048]) > 0).any(0)
    return {"fvu": fvu, "l0": float((codes > 0).sum(-1).float().mean()),
            "dead": 1.0 - float(fired.float().mean())}


def ours(x_train: torch.Tensor, x_test: torch.Tensor, steps: int, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    sae = train_sae(x_train, expansion=EXPANSION, k=K, steps=steps, batch_size=BATCH,
                    seed=seed).sae
    seconds = time.perf_counter() - started
    return {**scores(sae.encode, sae.decode, x_train, x_test, sae.n_latents),
            "s_per_step": seconds / steps}


def saelens(x_train: torch.Tensor, x_test: torch.Tensor, steps: int, seed: int,
            lr: float) -> dict[str, Any]:
    from sae_lens.config import LoggingConfig, SAETrainerConfig
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig
    from sae_lens.training.sae_trainer import SAETrainer

    d_in = x_train.shape[1]
    torch.manual_seed(seed)
    sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=d_in, d_sae=EXPANSION * d_in, k=K))
    cfg = SAETrainerConfig(
        n_checkpoints=0, checkpoint_path=None, save_final_checkpoint=False,
        total_training_samples=steps * BATCH, device="cpu", autocast=False, lr=lr,
        lr_end=lr / 10, lr_scheduler_name="constant", lr_warm_up_steps=0, adam_beta1=0.9,
        adam_beta2=0.999, lr_decay_steps=steps // 5, n_restart_cycles=1,
        train_batch_size_samples=BATCH, dead_feature_window=1000,
        feature_sampling_window=2000, logger=LoggingConfig(log_to_wandb=False))

    def batches() -> Any:
        gen = torch.Generator().manual_seed(seed)
        while True:
            order = torch.randperm(len(x_train), generator=gen)
            for i in range(0, len(x_train) - BATCH + 1, BATCH):
                yield x_train[order[i:i + BATCH]]

    started = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):  # its progress bar
        trained = SAETrainer(cfg, sae, batches()).fit()
    seconds = time.perf_counter() - started
    trained.eval()
    return {**scores(trained.encode, trained.decode, x_train, x_test, EXPANSION * d_in),
            "s_per_step": seconds / steps, "lr": lr}


def interval(values: list[float]) -> dict[str, float]:
    """Mean and 95% t-interval half-width."""
    from scipy import stats

    mean = statistics.fmean(values)
    if len(values) < 2:
        return {"mean": mean, "ci95": math.nan}
    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
    return {"mean": mean, "ci95": float(half)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--saelens-lrs", type=float, nargs="+", default=[2e-3, 4e-3, 8e-3])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default="benchmarks/results/sae_vs_saelens.json")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    import sae_lens  # noqa: F401  (fail before capturing when the extra is missing)

    results = []
    for name in args.models:
        x_train, x_test = capture(name, 12_288, 3_072)
        first = args.seeds[0]
        tried = {lr: saelens(x_train, x_test, args.steps, first, lr) for lr in args.saelens_lrs}
        best_lr = min(tried, key=lambda lr: tried[lr]["fvu"])
        runs: dict[str, list[dict[str, Any]]] = {"ours": [], "saelens": []}
        for seed in args.seeds:
            runs["ours"].append({"seed": seed, **ours(x_train, x_test, args.steps, seed)})
            lens = tried[best_lr] if seed == first else saelens(x_train, x_test, args.steps,
                                                                 seed, best_lr)
            runs["saelens"].append({"seed": seed, **lens})
            print(name, seed, {k: round(v[-1]["fvu"], 4) for k, v in runs.items()}, flush=True)
        summary = {side: {key: interval([r[key] for r in rows])
                          for key in ("fvu", "l0", "dead", "s_per_step")}
                   for side, rows in runs.items()}
        results.append({"model": name, "layer": MODELS[name], "train_vectors": len(x_train),
                        "test_vectors": len(x_test), "saelens_lr": best_lr,
                        "saelens_lr_trials": {str(k): v["fvu"] for k, v in tried.items()},
                        "runs": runs, "summary": summary})
    import sae_lens as lens_pkg

    write_json(args.json, {
        "command": "python -m benchmarks.sae_vs_saelens --seeds "
                   + " ".join(map(str, args.seeds)) + f" --steps {args.steps}",
        "steps": args.steps, "batch": BATCH, "expansion": EXPANSION, "k": K,
        "saelens_version": getattr(lens_pkg, "__version__", "?"), "models": results})


if __name__ == "__main__":
    main()
