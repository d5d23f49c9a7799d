"""MNIST CNN at batch 1: dense PyTorch against the same model with sparse-input kernels.

The pretrained zoo MNIST CNN (conv32-conv64-fc128) on MNIST test images, one image per call,
under ``torch.inference_mode()``. The accelerated model is a deep copy whose ``features``
become a ``SparseConvSequential`` (each conv a ``SparseInputConv2d`` in ``mode='auto'``, with
the ReLU and max-pool after it fused into the kernel call) and, when E1's
``actsparse.exploit.linear`` is there, whose ``classifier`` Linear layers become
``SparseInputLinear`` (``mode='auto'``). Both models are called alternately on the same image
(``interleaved``); the figure to quote is the median of the per-image ratios. Then every one of
the 10,000 test images goes through both models at batch 1 and the predictions are compared
(mismatches must be 0). Finally a sweep of the conv2 layer alone (input 32x14x14, batch 1 and
64) over input densities: dense ``F.conv2d`` against ``SparseInputConv2d(mode='sparse')``.

    .venv/bin/python -m benchmarks.mnist_cnn_batch1 --json benchmarks/results/mnist_cnn_batch1.json
"""

from __future__ import annotations

import argparse
import copy
import statistics
from typing import Any

import torch
from torch import Tensor, nn

from actsparse import zoo
from actsparse.exploit import conv as conv_mod
from actsparse.exploit.conv import SparseInputConv2d
from actsparse.exploit.conv_sequential import SparseConvSequential
from benchmarks._timing import interleaved, write_json


def accelerate_mnist(model: nn.Module, linear: bool) -> tuple[nn.Module, str]:
    """A deep copy with sparse-input convs (fused with ReLU/pool) and, if asked, Linears."""
    fast = copy.deepcopy(model)
    fast.features = SparseConvSequential.from_sequential(fast.features, mode="auto")
    note = "conv: SparseConvSequential(auto)"
    if linear:
        try:
            from actsparse.exploit.linear import SparseInputLinear
        except ImportError:
            return fast, note + "; linear: dense (actsparse.exploit.linear not importable)"
        for i, layer in enumerate(fast.classifier):
            if isinstance(layer, nn.Linear) and layer.weight.numel() >= MIN_LINEAR_WEIGHTS:
                fast.classifier[i] = SparseInputLinear.from_dense(layer, mode="auto")
        note += f"; linear: SparseInputLinear(auto) where >= {MIN_LINEAR_WEIGHTS} weights"
    return fast, note


# Below this many weights a Linear costs less than the Python call around a kernel (the
# 128 -> 10 head: ~10 us dense), so it stays dense.
MIN_LINEAR_WEIGHTS = 1 << 16


def latency(dense: nn.Module, fast: nn.Module, images: Tensor, repeats: int) -> dict[str, Any]:
    state = {"i": 0}

    def baseline() -> None:
        dense(images[state["i"] % len(images)][None])

    def candidate() -> None:
        fast(images[state["i"] % len(images)][None])
        state["i"] += 1

    with torch.inference_mode():
        res = interleaved(baseline, candidate, repeats=repeats, warmup=50)
    return {
        "median_dense_us": res["median_baseline_s"] * 1e6,
        "median_accelerated_us": res["median_candidate_s"] * 1e6,
        "median_speedup": 1.0 / res["median_ratio"],
        "repeats": repeats,
    }


def mismatches(dense: nn.Module, fast: nn.Module, images: Tensor) -> dict[str, Any]:
    wrong, worst = 0, 0.0
    with torch.inference_mode():
        for x in images:
            a, b = dense(x[None]), fast(x[None])
            wrong += int(a.argmax(1) != b.argmax(1))
            worst = max(worst, float((a - b).abs().max()))
    return {"images": len(images), "prediction_mismatches": wrong, "max_abs_logit_diff": worst}


def conv_sweep(conv: nn.Conv2d, repeats: int) -> list[dict[str, Any]]:
    sparse = SparseInputConv2d.from_dense(conv, mode="sparse").eval()
    rows = []
    gen = torch.Generator().manual_seed(0)
    for batch in (1, 64):
        for density in (0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0):
            shape = (batch, conv.in_channels, 14, 14)
            x = torch.where(torch.rand(shape, generator=gen) < density,
                            torch.rand(shape, generator=gen), 0.0)
            with torch.inference_mode():
                res = interleaved(lambda x=x: conv(x), lambda x=x: sparse(x),
                                  repeats=repeats if batch == 1 else repeats // 10, warmup=5)
            rows.append({"batch": batch, "density": density,
                         "dense_us": res["median_baseline_s"] * 1e6,
                         "sparse_us": res["median_candidate_s"] * 1e6,
                         "speedup": 1.0 / res["median_ratio"]})
            r = rows[-1]
            print(f"conv2 batch {batch:2d} density {density:.2f}: dense {r['dense_us']:8.1f} us"
                  f"  sparse {r['sparse_us']:8.1f} us  speedup {r['speedup']:.2f}x")
    return rows


def densities(fast: nn.Module, images: Tensor) -> dict[str, float]:
    seen: dict[str, list[float]] = {}
    with torch.inference_mode():
        for x in images[:500]:
            fast(x[None])
            for name, m in fast.named_modules():
                d = getattr(m, "last_density", None)
                if d is not None:
                    seen.setdefault(name, []).append(float(d))
    return {name: statistics.mean(v) for name, v in seen.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3000, help="images timed (interleaved)")
    parser.add_argument("--limit", type=int, default=None, help="test images checked (all)")
    parser.add_argument("--no-linear", action="store_true", help="keep the Linear layers dense")
    parser.add_argument("--json", default="benchmarks/results/mnist_cnn_batch1.json")
    args = parser.parse_args()

    zm = zoo.load_model("mnist-cnn")
    dense = zm.module.eval()
    data = zoo.load_data("mnist", split="test", limit=args.limit)
    images = torch.cat(list(zm.batches(data, batch_size=1000)))
    results: dict[str, Any] = {"threads": torch.get_num_threads()}
    for linear in ([False] if args.no_linear else [False, True]):
        fast, note = accelerate_mnist(dense, linear)
        key = "conv_and_linear" if linear else "conv_only"
        row = {"what": note, **latency(dense, fast, images, args.repeats),
               **mismatches(dense, fast, images), "densities": densities(fast, images)}
        results[key] = row
        print(f"{key}: {note}\n  dense {row['median_dense_us']:.1f} us, accelerated "
              f"{row['median_accelerated_us']:.1f} us, speedup {row['median_speedup']:.2f}x, "
              f"mismatches {row['prediction_mismatches']} of {row['images']}")
    results["crossovers"] = {repr(k[:2]): v for k, v in conv_mod._CROSSOVERS.items()}
    results["conv2_sweep"] = conv_sweep(dense.features[3], repeats=max(args.repeats // 5, 50))
    if args.json:
        write_json(args.json, results)


if __name__ == "__main__":
    main()
