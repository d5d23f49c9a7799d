"""Training-free magnitude thresholds: held-out density and model cost at targets 0.5 and 0.3.

    .venv/bin/python -m benchmarks.calibrate_thresholds

Thresholds go on the inputs of the MLP down-projections, calibrated on text train passages and
evaluated on held-out test passages (disjoint):

- all-MiniLM-L6-v2, ``encoder.layer.?.output.dense:input`` (the GELU output): per-layer density
  and the mean cosine between thresholded and dense sentence embeddings (mean-pooled last
  hidden state over the attention mask, as sentence-transformers does).
- SmolLM2-135M, ``model.layers.*.mlp.down_proj:input`` (SiLU(gate) * up): per-layer density and
  perplexity (token-level cross-entropy over the test passages) dense vs thresholded.

Each target runs uniform (every layer at the target) and greedy (the mean across layers at the
target; the greedy errors measured for the first target are reused for the second).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from actsparse import zoo
from actsparse.induce.calibrate import calibrate_thresholds
from benchmarks._timing import write_json

CASES: dict[str, dict[str, Any]] = {
    "minilm": {"layers": "encoder.layer.?.output.dense", "train": 64, "test": 64,
               "batch_size": 16, "max_length": 128, "greedy_step": 0.1},
    # Batches of 2 keep the greedy allocation's one-batch forwards short (30 layers x 4 steps).
    "smollm2": {"layers": "model.layers.*.mlp.down_proj", "train": 16, "test": 32,
                "batch_size": 2, "max_length": 128, "greedy_step": 0.2},
}


def batches(zm: zoo.ZooModel, split: str, case: dict[str, Any]) -> list[dict[str, Any]]:
    data = zoo.load_data("text", split=split, limit=case[split])
    out = list(zm.batches(data, batch_size=case["batch_size"], max_length=case["max_length"]))
    if zm.name == "smollm2":
        out = [{**b, "use_cache": False} for b in out]
    return out


@torch.inference_mode()
def embeddings(zm: zoo.ZooModel, data: list[dict[str, Any]]) -> Tensor:
    """Mean-pooled last hidden state over the attention mask, one row per passage."""
    rows = []
    for batch in data:
        hidden = zm.module(**batch).last_hidden_state  # (B, T, D)
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        rows.append((hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0))
    return torch.cat(rows)


@torch.inference_mode()
def perplexity(zm: zoo.ZooModel, data: list[dict[str, Any]]) -> float:
    """exp of the mean next-token cross-entropy over the non-padding tokens."""
    nll, tokens = 0.0, 0
    for batch in data:
        logits = zm.module(**batch).logits[:, :-1].float()  # (B, T-1, V)
        labels = batch["input_ids"][:, 1:]
        mask = batch["attention_mask"][:, 1:].bool() & batch["attention_mask"][:, :-1].bool()
        losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels,
                                                   reduction="none")  # (B, T-1)
        nll += float(losses[mask].sum())
        tokens += int(mask.sum())
    return math.exp(nll / tokens)


def cost_fn(zm: zoo.ZooModel, test: list[dict[str, Any]]) -> Callable[[], dict[str, float]]:
    """A function that measures the model's cost against the dense model, as it is now."""
    if zm.name == "minilm":
        dense = embeddings(zm, test)

        def cosine() -> dict[str, float]:
            cos = torch.nn.functional.cosine_similarity(embeddings(zm, test), dense, dim=-1)
            return {"embedding_cosine_mean": float(cos.mean()),
                    "embedding_cosine_min": float(cos.min())}

        return cosine
    dense_ppl = perplexity(zm, test)

    def ppl() -> dict[str, float]:
        value = perplexity(zm, test)
        return {"perplexity": value, "perplexity_dense": dense_ppl,
                "perplexity_ratio": value / dense_ppl}

    return ppl


def run(name: str, targets: list[float], greedy_modes: list[bool]) -> dict[str, Any]:
    case = CASES[name]
    zm = zoo.load_model(name)
    train, test = batches(zm, "train", case), batches(zm, "test", case)
    cost = cost_fn(zm, test)
    runs = []
    for greedy in greedy_modes:
        errors: Any = None
        for target in targets:
            started = time.perf_counter()
            cal = calibrate_thresholds(
                zm.module, train, target_density=target, layers=case["layers"], on="input",
                greedy=errors if errors is not None else greedy,
                greedy_step=case["greedy_step"])
            seconds = time.perf_counter() - started
            if greedy:
                errors = cal.greedy_errors
            try:
                held_out = cal.measure(test)
                result = cost()
            finally:
                cal.remove()
            layers = [{**vars(layer), "held_out_density": held_out[n]}
                      for n, layer in cal.layers.items()]
            misses = [abs(layer["held_out_density"] - layer["target"]) for layer in layers]
            mean_density = sum(held_out.values()) / len(held_out)
            row = {"target": target, "greedy": greedy, **result,
                   "held_out_mean_density": mean_density,
                   "max_abs_density_error": max(misses),
                   "all_within_0.02": max(misses) <= 0.02,
                   "calibration_seconds": round(seconds, 1), "passes": cal.passes,
                   "greedy_forwards": cal.greedy_forwards, "layers": layers}
            runs.append(row)
            shown = {k: round(v, 4) for k, v in result.items()}
            print(f"{name} target {target} {'greedy ' if greedy else 'uniform'}: "
                  f"held-out mean density {mean_density:.4f}, max |density - target| "
                  f"{max(misses):.4f}, {shown}, {seconds:.0f} s")
    return {"model": name, **{k: v for k, v in case.items()}, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="benchmarks/results/calibrate_thresholds.json")
    parser.add_argument("--models", nargs="+", default=list(CASES))
    parser.add_argument("--targets", nargs="+", type=float, default=[0.5, 0.3])
    parser.add_argument("--no-greedy", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    modes = [False] if args.no_greedy else [False, True]
    results = [run(name, args.targets, modes) for name in args.models]
    write_json(args.json, {"benchmark": "calibrate_thresholds", "cases": results})


if __name__ == "__main__":
    main()
