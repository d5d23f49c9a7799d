"""Profiling overhead: a forward loop with actsparse.profile against the same loop without hooks.

Measured in one run, alternating the two loops, on the pretrained MNIST CNN (batch 256 of MNIST
test images) and on all-MiniLM-L6-v2 (batch 32 x 128 tokens of English text). The figure to
quote is the median of the per-repeat ratios; the goal is at most 1.15x.

    .venv/bin/python benchmarks/profile_overhead.py --json benchmarks/results/profile_overhead.json
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import torch

import actsparse
from actsparse import zoo
from benchmarks._timing import interleaved, write_json


def plain_loop(model: torch.nn.Module, batches: list[Any]) -> None:
    with torch.inference_mode():
        for batch in batches:
            model(**batch) if isinstance(batch, dict) else model(batch)


def case(name: str, data: str, batch_size: int, n_batches: int, repeats: int,
         max_length: int = 128) -> dict[str, Any]:
    zm = zoo.load_model(name)
    dataset = zoo.load_data(data, split="test" if data != "text" else "train")
    batches = list(zm.batches(dataset, batch_size=batch_size, max_length=max_length))[:n_batches]
    if zm.kind == "text":  # every sequence exactly max_length tokens: no padding to skip
        batches = [_full_length(zm, b, max_length) for b in batches]
    model = zm.module
    prof = actsparse.profile(model, batches[:1])
    timing = interleaved(lambda: plain_loop(model, batches),
                         lambda: actsparse.profile(model, batches), repeats)
    shapes = {k: list(v.shape) for k, v in batches[0].items()} if zm.kind == "text" else list(
        batches[0].shape)
    print(f"{name}: median overhead {timing['median_ratio']:.3f}x "
          f"({timing['median_baseline_s']:.3f}s -> {timing['median_candidate_s']:.3f}s)")
    return {"model": name, "data": data, "batch": shapes, "batches_per_repeat": len(batches),
            "layers": prof.names, **timing}


def _full_length(zm: zoo.ZooModel, batch: dict[str, torch.Tensor], length: int) -> dict[str, Any]:
    ids = batch["input_ids"]
    reps = -(-length // ids.shape[1])
    ids = ids.repeat(1, reps)[:, :length]
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="benchmarks/results/profile_overhead.json")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results = [
        case("mnist-cnn", "mnist", batch_size=256, n_batches=8, repeats=args.repeats),
        case("minilm", "text", batch_size=32, n_batches=2, repeats=args.repeats),
    ]
    write_json(args.json, {"benchmark": "profile_overhead", "goal_max_ratio": 1.15,
                           "native_kernel": actsparse.measure.update.native_available(),
                           "cases": results})


if __name__ == "__main__":
    main()
