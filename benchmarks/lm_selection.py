"""SmolLM2-135M held-out quality of training-free activation sparsity: magnitude vs weight rule.

    .venv/bin/python -m benchmarks.lm_selection

Thresholds on the input of every decoder Linear (q/k/v/o and gate/up/down, 210 layers), as the
decode benchmark places them, calibrated on train passages with ``calibrate_thresholds`` at
densities 0.7 / 0.6 / 0.5 under each selection rule:

- ``magnitude``: zero ``|x_i| <= t`` (TEAL);
- ``weight``: zero ``|x_i| * ||W[:, i]||_2 <= t`` (WINA), ``W`` the Linear's weight.

Allocation ``uniform`` gives every layer the density; ``greedy`` (``--greedy``, slow: one
forward per layer and grid step) shares the mean out by measured output error.

Quality on held-out test passages (disjoint from the calibration ones), each against dense
(:mod:`actsparse.exploit.lm_quality`): perplexity ratio and next-token accuracy over the
passages; greedy agreement over ``--new-tokens`` tokens after prompts of ``--prompt-tokens``
(the fraction of steps whose argmax is the dense greedy token, fed the dense continuation, and
the mean length of the common prefix with dense greedy decoding). No speed is measured here.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import torch
from torch import Tensor

from actsparse import zoo
from actsparse.exploit.lm_quality import (
    compare_lm,
    greedy_agreement,
    greedy_continuations,
    lm_scores,
)
from actsparse.induce.calibrate import calibrate_thresholds
from benchmarks._timing import write_json

DECODER_LINEARS = ["model.layers.*.self_attn.*_proj", "model.layers.*.mlp.*_proj"]


def passages(zm: zoo.ZooModel, split: str, count: int, batch_size: int, max_length: int
             ) -> list[dict[str, Any]]:
    data = zoo.load_data("text", split=split, limit=count)
    return [{**b, "use_cache": False}
            for b in zm.batches(data, batch_size=batch_size, max_length=max_length)]


def prompts(zm: zoo.ZooModel, count: int, length: int) -> Tensor:
    """The first ``length`` tokens of the first ``count`` held-out passages that long."""
    out: list[Tensor] = []
    for text in zoo.load_data("text", split="test").texts:
        ids = zm.tokenizer(text, return_tensors="pt")["input_ids"]
        if ids.shape[1] >= length:
            out.append(ids[:, :length])
        if len(out) == count:
            break
    return torch.cat(out)


def quality(model: torch.nn.Module, test: list[dict[str, Any]], prompt_ids: Tensor,
            reference: Tensor) -> dict[str, float]:
    scores = lm_scores(model, test)
    agree = greedy_agreement(model, prompt_ids, reference)
    return {"perplexity": scores["perplexity"],
            "next_token_accuracy": scores["next_token_accuracy"],
            "greedy_agreement": agree["agreement"], "common_prefix": agree["common_prefix"],
            "tokens": scores["tokens"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="benchmarks/results/lm_selection.json")
    parser.add_argument("--densities", nargs="+", type=float, default=[0.7, 0.6, 0.5])
    parser.add_argument("--rules", nargs="+", default=["magnitude", "weight"])
    parser.add_argument("--greedy", action="store_true", help="also the greedy allocation")
    parser.add_argument("--greedy-step", type=float, default=0.1)
    parser.add_argument("--train", type=int, default=16, help="calibration passages")
    parser.add_argument("--test", type=int, default=24, help="held-out passages")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--prompts", type=int, default=24)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    zm = zoo.load_model("smollm2")
    model = zm.module.eval()
    train = passages(zm, "train", args.train, 2, args.max_length)
    test = passages(zm, "test", args.test, 4, args.max_length)
    prompt_ids = prompts(zm, args.prompts, args.prompt_tokens)
    reference = greedy_continuations(model, prompt_ids, args.new_tokens)
    dense = quality(model, test, prompt_ids, reference)
    print(f"dense: {dense} ({time.perf_counter() - started:.0f} s)", flush=True)
    allocations = ["uniform", "greedy"] if args.greedy else ["uniform"]
    runs = []
    for rule in args.rules:
        for allocation in allocations:
            errors: Any = None
            for density in args.densities:
                t0 = time.perf_counter()
                cal = calibrate_thresholds(
                    model, train, target_density=density, layers=DECODER_LINEARS, on="input",
                    rule=rule,  # type: ignore[arg-type]
                    greedy=(errors if errors is not None else True) if allocation == "greedy"
                    else False, greedy_step=args.greedy_step)
                seconds = time.perf_counter() - t0
                if allocation == "greedy":
                    errors = cal.greedy_errors
                try:
                    held = cal.measure(test)
                    result = quality(model, test, prompt_ids, reference)
                finally:
                    cal.remove()
                row = {"rule": rule, "allocation": allocation, "density": density, **result,
                       **compare_lm(dense, result),
                       "held_out_mean_density": sum(held.values()) / len(held),
                       "layers_calibrated": len(cal.layers),
                       "calibration_seconds": round(seconds, 1),
                       "greedy_forwards": cal.greedy_forwards}
                runs.append(row)
                print(f"{rule} {allocation} d={density}: ppl x{row['perplexity_ratio']:.3f}, "
                      f"acc {row['next_token_accuracy']:.4f}, agreement "
                      f"{row['greedy_agreement']:.3f}, prefix {row['common_prefix']:.1f}, "
                      f"held-out density {row['held_out_mean_density']:.3f} "
                      f"({seconds:.0f} s calibration)", flush=True)
    write_json(args.json, {
        "benchmark": "lm_selection", "model": "smollm2", "layers": DECODER_LINEARS,
        "command": " ".join(["python -m benchmarks.lm_selection", *sys.argv[1:]]),
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
        "dense": dense, "runs": runs,
        "seconds": round(time.perf_counter() - started, 1)})


if __name__ == "__main__":
    main()
