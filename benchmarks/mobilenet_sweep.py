"""MobileNetV2 with calibrated thresholds: speed against top-1 agreement with the dense model.

Its ReLU6 maps are about 40% zero on their own, which caps the multiply-adds a sparse kernel
can skip near 1.2x; thresholds zero more. For each target density, as a user does it:

    calibrate_thresholds(model, calibration, target_density=d)   # on every ReLU6 output
    fast, report = actsparse.accelerate(model, calibration, batch_size=1, held_out=...)

(density 1.0: no thresholds). Per point: the speedup accelerate() reported over the model it
was given and an independent timing of the returned model against the *dense* model on the
crops accelerate() never saw (interleaved single calls, at least 2 s); top-1 agreement and the
largest logit difference against the dense model on those crops; the FLOP ratio the report
states. ONNX Runtime dense (same threads) is timed beside, on the same crops.

The photo crops are the zoo's seven photos at three scales, mirrored: 224 crops, dealt into
thirds for calibration, accelerate()'s held-out check and the test (74 crops), so agreement
moves in steps of 1/74.

    .venv/bin/python -m benchmarks.mobilenet_sweep --threads 2
"""

from __future__ import annotations

import argparse
import copy
import time
import warnings
from typing import Any

import torch
from torch import Tensor, nn

import actsparse
from actsparse._jsonio import write_json
from actsparse._timing import machine
from actsparse.exploit.baselines import dense_baselines
from actsparse.induce.calibrate import calibrate_thresholds
from benchmarks.accelerate_cnn import _cut, _independent, _inputs, _quality


def _agreement(quality: dict[str, Any]) -> dict[str, Any]:
    """Top-1 agreement with the dense model from ``accelerate_cnn``'s quality check."""
    n = quality["images"]
    return {"crops": n, "top1_agreement": 1.0 - quality["prediction_mismatches"] / n,
            "max_abs_logit_diff": quality["max_abs_logit_diff"]}


def point(dense: nn.Module, density: float, calib: Tensor, held: Tensor, test: Tensor,
          repeats: int) -> dict[str, Any]:
    model = copy.deepcopy(dense).eval()
    t0 = time.perf_counter()
    if density < 1.0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # layers already sparser than d are left alone
            calibrate_thresholds(model, [calib], target_density=density)
    fast, report = actsparse.accelerate(model, [calib], batch_size=1, held_out=_cut(held, 1),
                                        repeats=repeats)
    seconds = time.perf_counter() - t0
    singles = _cut(test, 1)
    t = _independent(dense, fast, singles, repeats)  # interleaved single calls, >= 2 s
    base = dense_baselines(dense, singles, accelerated=fast, compile=False, repeats=repeats)
    totals = report.to_dict()["totals"]
    row = {"target_density": density, "chosen": report.chosen, "seconds": seconds,
           "reported_speedup_over_given": report.measured_speedup,
           "dense_s": t["dense_s"], "ours_s": t["ours_s"], "speedup_vs_dense": t["speedup"],
           "flop_ratio": totals.get("flop_ratio"),
           "runtimes": {k: v.get("median_s") for k, v in base.runtimes.items()},
           "ours_vs": base.accelerated_vs,
           **_agreement(_quality(dense, fast, singles, None))}
    print(f"d={density:g}: {report.chosen}, {t['speedup']:.2f}x dense eager, "
          f"{base.accelerated_vs.get('onnxruntime', float('nan')):.2f}x ORT "
          f"({t['ours_s'] * 1e3:.1f} ms), top-1 agreement {row['top1_agreement']:.3f}, "
          f"max |dy| {row['max_abs_logit_diff']:.2g}, flops x{row['flop_ratio'] or 0:.2f}, "
          f"{seconds:.0f} s")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--densities", default="1.0,0.9,0.8,0.7,0.6,0.5")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", default="benchmarks/results/mobilenet_sweep.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dense, calib, held, test, _ = _inputs("mobilenetv2", quick=True)
    dense.eval()
    points = [point(dense, float(d), calib, held, test, args.repeats)
              for d in args.densities.split(",")]
    result = {"machine": machine(), "model": "mobilenetv2", "batch_size": 1,
              "threads": args.threads, "repeats": args.repeats,
              "points": points,
              "command": f"python -m benchmarks.mobilenet_sweep --densities {args.densities} "
                         f"--threads {args.threads}"}
    write_json(args.json, result)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
