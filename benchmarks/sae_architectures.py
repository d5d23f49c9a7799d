"""SAE architectures side by side on real MiniLM layer-3 vectors, at matched L0.

    nice -n 10 .venv/bin/python -m benchmarks.sae_architectures --threads 1

The vectors are captured with :func:`actsparse.capture_pairs` as ``actsparse sae`` captures
them (zoo 'text' train split for training, test split held out, padding left out; 12,288 /
3,072 vectors): the input of MiniLM's layer-3 MLP block (``encoder.layer.3.intermediate``'s
input, after attention) and its output (``encoder.layer.3.output``, the residual stream after
the block). On the output, ``train_sae`` trains one SAE per architecture, expansion 8, the
same steps of 1,024 vectors and the defaults otherwise:

- TopK, BatchTopK and Matryoshka at ``k = 32`` (BatchTopK and Matryoshka: 32 per vector on
  average in training; at inference their global threshold decides);
- JumpReLU for each of ``--l0-coefs``; L0 is not set directly, so the one whose held-out L0 is
  nearest 32 is the matched point (all are kept in the JSON).

And a TopK transcoder (k = 32) that predicts the block's output from its input, its FVU
against that output.

Reported per run: held-out FVU, held-out L0, dead latents (never fired on the training
vectors) and seconds per step (one thread). Each run is stored in the JSON as it finishes; a
rerun skips finished runs (``--fresh`` starts over).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import torch

from actsparse import zoo
from actsparse.cli.sae import Captured, _splits
from actsparse.interpret import capture_pairs, evaluate_sae, train_sae
from benchmarks._timing import write_json

MODEL, SOURCE, LAYER = "minilm", "encoder.layer.3.intermediate:input", "encoder.layer.3.output"
EXPANSION, K, BATCH = 8, 32, 1024
TRAIN, TEST = 12_288, 3_072


def capture() -> dict[str, torch.Tensor]:
    """Row-aligned block inputs and outputs, train and held out."""
    zm = zoo.load_model(MODEL)
    tr, te = _splits("text", None)
    data = Captured(zm, LAYER, tr, te, batch_size=16, max_length=256, seed=0)
    x_tr, y_tr = capture_pairs(zm.module, data.batches(tr), SOURCE, LAYER, limit=TRAIN)
    x_te, y_te = capture_pairs(zm.module, data.batches(te), SOURCE, LAYER, limit=TEST)
    return {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}


def one_run(v: dict[str, torch.Tensor], arch: str, steps: int, seed: int,
            transcoder: bool = False, l0_coef: float = 1e-3) -> dict[str, Any]:
    """Train one SAE (or transcoder) and measure it."""
    inputs = v["x_train"] if transcoder else v["y_train"]
    started = time.perf_counter()
    trained = train_sae(inputs, targets=v["y_train"] if transcoder else None, architecture=arch,
                        expansion=EXPANSION, k=K, l0_coef=l0_coef, steps=steps,
                        batch_size=BATCH, seed=seed)
    seconds = time.perf_counter() - started
    sae = trained.sae
    held = evaluate_sae(sae, v["x_test"] if transcoder else v["y_test"],
                        targets=v["y_test"] if transcoder else None)
    seen = evaluate_sae(sae, inputs, targets=v["y_train"] if transcoder else None)
    return {"architecture": arch, "transcoder": transcoder, "seed": seed,
            "l0_coef": l0_coef if arch == "jumprelu" else None, "fvu": held["fvu"],
            "l0": held["l0"], "train_l0": seen["l0"], "dead": seen["dead_fraction"],
            "s_per_step": seconds / steps, "config": sae.config()}


def planned(coefs: list[float], seeds: list[int]) -> dict[str, dict[str, Any]]:
    """Every run by name: the architectures, the JumpReLU sweep, the transcoder."""
    runs: dict[str, dict[str, Any]] = {}
    for seed in seeds:
        for arch in ("topk", "batchtopk", "matryoshka"):
            runs[f"{arch}/seed{seed}"] = {"arch": arch, "seed": seed}
        for coef in coefs:
            runs[f"jumprelu@{coef:g}/seed{seed}"] = {"arch": "jumprelu", "seed": seed,
                                                     "l0_coef": coef}
        runs[f"transcoder-topk/seed{seed}"] = {"arch": "topk", "seed": seed,
                                               "transcoder": True}
    return runs


def matched(runs: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Per seed, the JumpReLU run whose held-out L0 is nearest ``K``."""
    best: dict[str, str] = {}
    for name, r in runs.items():
        if r["architecture"] == "jumprelu":
            key = f"seed{r['seed']}"
            if key not in best or abs(r["l0"] - K) < abs(runs[best[key]]["l0"] - K):
                best[key] = name
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--l0-coefs", type=float, nargs="+", default=[3e-3, 1e-2, 3e-2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fresh", action="store_true", help="ignore finished runs")
    parser.add_argument("--json", default="benchmarks/results/sae_architectures.json")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    path = Path(args.json)
    old = json.loads(path.read_text()) if path.is_file() and not args.fresh else {}
    done: dict[str, dict[str, Any]] = old.get("runs", {}) if old.get("steps") == args.steps \
        else {}
    command = ("python -m benchmarks.sae_architectures --threads 1 --steps "
               f"{args.steps} --seeds " + " ".join(map(str, args.seeds)) + " --l0-coefs "
               + " ".join(f"{c:g}" for c in args.l0_coefs))
    todo = {n: p for n, p in planned(args.l0_coefs, args.seeds).items() if n not in done}
    vectors = capture() if todo else {}
    for name, plan in todo.items():
        done[name] = one_run(vectors, plan["arch"], args.steps, plan["seed"],
                             plan.get("transcoder", False), plan.get("l0_coef", 1e-3))
        r = done[name]
        print(f"{name}: FVU {r['fvu']:.4f} L0 {r['l0']:.1f} dead {r['dead']:.2%} "
              f"{r['s_per_step']:.3f} s/step", flush=True)
        write_json(path, {"command": command, "model": MODEL, "layer": LAYER, "source": SOURCE,
                          "train_vectors": TRAIN, "test_vectors": TEST, "steps": args.steps,
                          "batch": BATCH, "expansion": EXPANSION, "k": K, "runs": done,
                          "jumprelu_matched": matched(done)})


if __name__ == "__main__":
    main()
