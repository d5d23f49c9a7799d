"""The fused statistics kernel against the torch reference update, on model-sized activations.

Times ``update_reference`` and the fused C update alternately in one run on the activation
sizes the profiling-overhead goal is set on: the MNIST CNN at batch 256 (ReLU outputs of
256x32x28x28 and 256x64x14x14, and a 256x128 FC) and MiniLM at 32x128 tokens (GELU outputs of
4096x1536). Quotes the median time of each and the median per-repeat ratio.

    .venv/bin/python -m benchmarks.stats_kernel --json benchmarks/results/stats_kernel.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

if not __package__:  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actsparse.measure._fused import fused_update, stats_kernel  # noqa: E402
from actsparse.measure.config import ProfileConfig  # noqa: E402
from actsparse.measure.state import (  # noqa: E402
    as_samples_units_positions,
    new_state,
    update_reference,
)
from benchmarks._timing import interleaved, write_json  # noqa: E402

CASES = {  # name: (shape, activation)
    "mnist-cnn conv1 relu": ((256, 32, 28, 28), "relu"),
    "mnist-cnn conv2 relu": ((256, 64, 14, 14), "relu"),
    "mnist-cnn fc relu": ((256, 128), "relu"),
    "minilm ffn gelu": ((32, 128, 1536), "gelu"),
}


def case(name: str, shape: tuple[int, ...], act: str, repeats: int) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(0)
    pre = torch.randn(shape, generator=gen)
    x = torch.relu(pre) if act == "relu" else F.gelu(pre)
    config = ProfileConfig()
    edges = config.edges()
    xs, spatial = as_samples_units_positions(x)
    ref_state = new_state(config, xs.shape[1], spatial)
    fused_state = new_state(config, xs.shape[1], spatial)
    if not fused_update(fused_state, x, config, edges):
        raise SystemExit("the fused kernel declined the input")
    timing = interleaved(
        lambda: update_reference(ref_state, x, config, edges),
        lambda: fused_update(fused_state, x, config, edges),
        repeats=repeats,
    )
    ref_ms, fused_ms = timing["median_baseline_s"] * 1e3, timing["median_candidate_s"] * 1e3
    print(f"{name:24s} {str(tuple(shape)):20s} reference {ref_ms:8.2f} ms  fused {fused_ms:7.2f} ms"
          f"  speedup {1 / timing['median_ratio']:6.1f}x")
    return {"name": name, "shape": list(shape), "activation": act, "elements": x.numel(),
            "density": float((x != 0).float().mean()), "reference_ms": ref_ms,
            "fused_ms": fused_ms, "fused_ns_per_element": fused_ms * 1e6 / x.numel(),
            "median_ratio_fused_over_reference": timing["median_ratio"], **timing}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", default="benchmarks/results/stats_kernel.json")
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args()
    if stats_kernel() is None:
        raise SystemExit("the fused kernel is not available (no compiler, or ACTSPARSE_NO_NATIVE)")
    results = [case(name, shape, act, args.repeats) for name, (shape, act) in CASES.items()]
    write_json(args.json, {"benchmark": "stats_kernel", "goal_conv2_fused_ms": 10.0,
                           "cases": results})


if __name__ == "__main__":
    main()
