"""all-MiniLM-L6-v2 encoding: throughput and embedding cosine, dense vs calibrated thresholds.

    .venv/bin/python -m benchmarks.minilm_encode

For each layer set and target density: ``accelerate()`` (``prune=False, measure=False,
min_speedup=1.05``) calibrates magnitude thresholds on the chosen Linear inputs on 64 train
passages and swaps those Linears for ``SparseInputLinear`` (mode 'auto': the kernel runs only
when the input density it counts is below the crossover measured on this machine for the
layer's shape and batch class, else ``F.linear``). Layer sets:

- ``down``: the 6 MLP down-projection inputs, ``encoder.layer.?.output.dense`` (GELU output);
- ``all``: every Linear input in the encoder (query/key/value, attention output, intermediate,
  output: 36 layers).

On held-out passages (test split, disjoint from train): the mean and minimum cosine between the
sentence embeddings (mean-pooled last hidden state, ``calibrate_thresholds.embeddings``) of the
sparse and the dense model, and encoding throughput in sentences/s, dense and sparse
interleaved (medians of repeats), at batch 32 x up to 128 tokens and, for reference, batch 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time
from collections import Counter
from typing import Any

import torch
from torch import nn

from actsparse import zoo
from actsparse.exploit.accelerate import accelerate
from actsparse.exploit.linear import SparseInputLinear
from benchmarks._timing import interleaved, write_json
from benchmarks.calibrate_thresholds import embeddings

LAYER_SETS: dict[str, list[str]] = {
    "down": ["encoder.layer.?.output.dense"],
    "all": ["encoder.layer.?.attention.self.query", "encoder.layer.?.attention.self.key",
            "encoder.layer.?.attention.self.value", "encoder.layer.?.attention.output.dense",
            "encoder.layer.?.intermediate.dense", "encoder.layer.?.output.dense"],
}


def text_batches(zm: zoo.ZooModel, split: str, passages: int, batch_size: int,
                 max_length: int = 128) -> list[dict[str, Any]]:
    data = zoo.load_data("text", split=split, limit=passages)
    return list(zm.batches(data, batch_size=batch_size, max_length=max_length))


def routes(model: nn.Module) -> dict[str, int]:
    """How many swapped layers ran which route in their last call."""
    return dict(Counter(str(m.last_route) for m in model.modules()
                        if isinstance(m, SparseInputLinear)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="benchmarks/results/minilm_encode.json")
    parser.add_argument("--targets", nargs="+", type=float, default=[0.9, 0.8, 0.7, 0.6, 0.5])
    parser.add_argument("--layer-sets", nargs="+", default=list(LAYER_SETS))
    parser.add_argument("--train", type=int, default=64)
    parser.add_argument("--test", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--single", type=int, default=32,
                        help="passages encoded one at a time for the batch-1 figure (0: skip)")
    parser.add_argument("--timing-batches", type=int, default=2,
                        help="how many of the test batches are timed (cosine uses all)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    zm = zoo.load_model("minilm")
    dense = zm.module
    train = text_batches(zm, "train", args.train, 16)
    test = text_batches(zm, "test", args.test, args.batch_size)
    single = text_batches(zm, "test", args.single, 1) if args.single else []
    reference = embeddings(zm, test)
    timed = test[:args.timing_batches]
    sentences = sum(int(b["input_ids"].shape[0]) for b in timed)
    runs = []
    for layer_set in args.layer_sets:
        for target in args.targets:
            t0 = time.perf_counter()
            fast, report = accelerate(dense, train, target_density=target,
                                      layers=LAYER_SETS[layer_set], prune=False, measure=False,
                                      min_speedup=1.05)
            seconds = time.perf_counter() - t0
            sparse_zm = dataclasses.replace(zm, module=fast)
            cos = torch.nn.functional.cosine_similarity(embeddings(sparse_zm, test), reference,
                                                        dim=-1)
            timing = interleaved(lambda: embeddings(zm, timed),
                                 lambda s=sparse_zm: embeddings(s, timed), args.repeats)
            batched_routes = routes(fast)
            row: dict[str, Any] = {
                "layer_set": layer_set, "target": target,
                "swapped": sum(r.swapped for r in report.layers),
                "calibration_mean_density": statistics.fmean(
                    r.input_density for r in report.layers if r.swapped) if any(
                    r.swapped for r in report.layers) else None,
                "embedding_cosine_mean": float(cos.mean()),
                "embedding_cosine_min": float(cos.min()),
                "meets_0.99": float(cos.mean()) >= 0.99,
                "batch": args.batch_size,
                "dense_sentences_per_s": sentences / timing["median_baseline_s"],
                "sparse_sentences_per_s": sentences / timing["median_candidate_s"],
                "throughput_ratio": 1.0 / timing["median_ratio"],
                "routes_batched": batched_routes,
                "accelerate_seconds": round(seconds, 1),
            }
            if single:
                one = interleaved(lambda: embeddings(zm, single),
                                  lambda s=sparse_zm: embeddings(s, single), args.repeats)
                row["batch1_dense_sentences_per_s"] = len(single) / one["median_baseline_s"]
                row["batch1_sparse_sentences_per_s"] = len(single) / one["median_candidate_s"]
                row["batch1_throughput_ratio"] = 1.0 / one["median_ratio"]
                row["routes_batch1"] = routes(fast)
            runs.append(row)
            extra = (f", batch 1 x{row['batch1_throughput_ratio']:.3f} {row['routes_batch1']}"
                     if single else "")
            print(f"{layer_set} target {target}: cosine {row['embedding_cosine_mean']:.4f} "
                  f"(min {row['embedding_cosine_min']:.4f}), batch {args.batch_size} "
                  f"{row['dense_sentences_per_s']:.1f} -> {row['sparse_sentences_per_s']:.1f} "
                  f"sentences/s (x{row['throughput_ratio']:.3f}) {batched_routes}{extra}, "
                  f"{seconds:.0f} s")
            del fast, sparse_zm
    write_json(args.json, {
        "benchmark": "minilm_encode",
        "settings": {**vars(args), "layer_sets": {k: LAYER_SETS[k] for k in args.layer_sets},
                     "swap_mode": "auto", "max_length": 128, "calibration_batch": 16,
                     "timed_sentences": sentences,
                     "cosine_sentences": int(reference.shape[0])},
        "runs": runs,
    })


if __name__ == "__main__":
    main()
