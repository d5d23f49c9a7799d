"""Peak memory while profiling 60,000 MNIST images against profiling 6,000.

Each size runs in a fresh process (peak RSS is a per-process high-water mark); both processes
load the same data and model, so the difference is what profiling keeps. Goal: within 10%.

    .venv/bin/python benchmarks/profile_memory.py --json benchmarks/results/profile_memory.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from collections.abc import Iterator

import torch

from actsparse._jsonio import dumps
from benchmarks._timing import write_json


def worker(n_images: int, batch_size: int) -> None:
    import actsparse
    from actsparse import zoo

    zm = zoo.load_model("mnist-cnn")
    train, val = zoo.load_data("mnist", split="train"), zoo.load_data("mnist", split="val")
    images = torch.cat([train.images, val.images])  # 60,000 images
    assert len(images) >= n_images, f"only {len(images)} images"
    norm = zm.image_input
    assert norm is not None
    mean, std = norm.mean[0], norm.std[0]

    def batches() -> Iterator[torch.Tensor]:  # streamed: no copy of the whole set
        for i in range(0, n_images, batch_size):
            yield (images[i : min(i + batch_size, n_images)] - mean) / std

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    prof = actsparse.profile(zm.module, batches(), inputs=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(dumps({"images": n_images, "samples": prof[prof.names[0]].samples,
                 "peak_rss_kib": peak, "rss_before_profiling_kib": rss_before}, indent=None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="benchmarks/results/profile_memory.json")
    parser.add_argument("--worker", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.batch_size)
        return
    runs = {}
    for n in (6000, 60000):
        out = subprocess.run([sys.executable, "-m", "benchmarks.profile_memory", "--worker",
                              str(n), "--batch-size", str(args.batch_size)],
                             check=True, capture_output=True, text=True)
        runs[n] = json.loads(out.stdout.strip().splitlines()[-1])
        print(runs[n])
    ratio = runs[60000]["peak_rss_kib"] / runs[6000]["peak_rss_kib"]
    print(f"peak RSS 60k / 6k = {ratio:.3f}")
    write_json(args.json, {"benchmark": "profile_memory", "goal_max_ratio": 1.10,
                           "runs": list(runs.values()), "peak_ratio_60k_over_6k": ratio})


if __name__ == "__main__":
    main()
