"""accelerate() on CNNs, as a user calls it, against the dense runtimes a user would deploy with.

For each model and batch size (1 and 8, 2 threads by default), this calls only the public
``actsparse.accelerate(model, calibration, batch_size=B, held_out=..., baselines=True)`` and
writes, per setting:

- the dense baselines accelerate() timed beside its result in the same run, on its held-out
  inputs: PyTorch eager, ONNX Runtime (CPUExecutionProvider, same threads) and
  ``torch.compile`` (inductor, freezing); our model's time and its ratio to each;
- the speedup accelerate() reported, and an independent measurement of the returned object:
  the original and the returned model timed interleaved here, on inputs accelerate() never
  saw (the test split), and the ratio of the two figures (it should be within 10%);
- prediction mismatches and the largest logit difference against the dense model on the test
  images (all 10,000 for the MNIST CNN; ``--quick``: 1,000), at the same batch size.

Models: ``mnist-cnn`` (the pretrained zoo CNN on MNIST: calibration on the validation split)
and ``mobilenetv2`` (on 224x224 crops of the zoo's seven photos at three scales and mirrored,
224 crops: calibration, held-out and independent inputs are three thirds of them, one crop in
three each, a crop and its mirror image in the same third). A run folder of
``actsparse train`` can be passed too (``--models runs/kwta``; it is calibrated on MNIST).

    .venv/bin/python -m benchmarks.accelerate_cnn --json benchmarks/results/accelerate_cnn.json
    .venv/bin/python -m benchmarks.accelerate_cnn --quick --models mnist-cnn
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
from torch import Tensor, nn

import actsparse
from actsparse import zoo
from actsparse._jsonio import write_json
from actsparse._timing import interleaved, machine


def _cut(x: Tensor, size: int) -> list[Tensor]:
    """Whole batches of ``size`` rows."""
    return [x[i:i + size] for i in range(0, len(x) - size + 1, size)]


def _inputs(name: str, quick: bool) -> tuple[nn.Module, Tensor, Tensor, Tensor, Tensor | None]:
    """``(model, calibration, held_out, test, test_labels)`` input tensors of a model."""
    zm = zoo.load_model(name)
    if zm.image_input is not None and zm.image_input.size >= 64:  # photo crops
        calib, held, test = _photo_thirds(zm)
        return zm.module, calib, held, test, None
    val = zoo.load_data("mnist", split="val", limit=4096)
    test = zoo.load_data("mnist", split="test", limit=1000 if quick else None)
    images = torch.cat(list(zm.batches(val, batch_size=512)))
    test_images = torch.cat(list(zm.batches(test, batch_size=1000)))
    return zm.module, images[:2048], images[2048:], test_images, test.labels


def _photo_thirds(zm: zoo.ZooModel) -> tuple[Tensor, Tensor, Tensor]:
    """The photo crops dealt into three thirds, one crop in three each (so every third has
    crops of every photo and scale), each crop with its mirror image in the same third."""
    views = _photo_crops(zm)
    calib, held, test = (zm.normalize(torch.cat([t, t.flip(-1)])) for t in
                         (views[i::3] for i in range(3)))
    return calib, held, test


def _photo_crops(zm: zoo.ZooModel) -> Tensor:
    """Crops of the zoo's photos at three scales (in [0, 1])."""
    photos = zoo.load_data("photos").images.float()  # (N, 3, H, W) in [0, 1]
    views = []
    for scale in (1.0, 0.75, 0.55):
        size = [round(photos.shape[-2] * scale), round(photos.shape[-1] * scale)]
        scaled = torch.nn.functional.interpolate(photos, size=size, mode="bilinear",
                                                 antialias=True, align_corners=False)
        views.append(zm.views(scaled.clamp(0, 1)))
    return torch.cat(views)


def _independent(dense: nn.Module, fast: nn.Module, batches: list[Tensor], repeats: int
                 ) -> dict[str, Any]:
    """The returned model against the original, timed here on inputs accelerate() never saw:
    single calls interleaved (each input through one model, then the other), ``repeats``
    rounds over the batches."""
    def cycling(model: nn.Module) -> Any:
        state = [0]

        def go() -> None:
            model(batches[state[0] % len(batches)])
            state[0] += 1
        return go

    with torch.inference_mode():
        t = interleaved([cycling(dense), cycling(fast)], repeats=repeats * len(batches),
                        warmup=2 * len(batches), min_seconds=2.0)  # as long as accelerate()'s check
    return {"dense_s": t.medians[0], "ours_s": t.medians[1], "speedup": t.ratio(0, 1),
            "calls": len(batches), "rounds": repeats}


def _quality(dense: nn.Module, fast: nn.Module, batches: list[Tensor],
             labels: Tensor | None) -> dict[str, Any]:
    wrong, worst, correct, seen = 0, 0.0, 0, 0
    with torch.inference_mode():
        for x in batches:
            a, b = dense(x), fast(x)
            wrong += int((a.argmax(1) != b.argmax(1)).sum())
            worst = max(worst, float((a - b).abs().max()))
            if labels is not None:
                correct += int((b.argmax(1) == labels[seen:seen + len(x)]).sum())
            seen += len(x)
    out: dict[str, Any] = {"images": seen, "prediction_mismatches": wrong,
                           "max_abs_logit_diff": worst}
    if labels is not None:
        out["accuracy"] = correct / seen
    return out


def one(name: str, batch: int, quick: bool, repeats: int) -> dict[str, Any]:
    dense, calib, held, test, labels = _inputs(name, quick)
    dense.eval()
    per_pass = max(4, (64 if quick else 256) // batch)  # calls per timed pass
    if len(held) < batch * per_pass:
        per_pass = max(1, len(held) // batch)
    t0 = time.perf_counter()
    fast, report = actsparse.accelerate(
        dense, _cut(calib, 256 if len(calib) >= 256 else len(calib)), batch_size=batch,
        held_out=_cut(held, batch), timing_batches=per_pass, repeats=repeats,
        baselines={"compile": not quick})
    seconds = time.perf_counter() - t0
    test_batches = _cut(test, batch)
    independent = _independent(dense, fast, test_batches[:max(per_pass, 1)], repeats)
    base = report.baselines or {}
    runtimes = {k: v.get("median_s") for k, v in base.get("runtimes", {}).items()}
    reported = report.measured_speedup
    row = {
        "model": name, "batch_size": batch, "accelerate_seconds": seconds,
        "chosen": report.chosen, "swapped": report.swapped,
        "median_s": {"eager": runtimes.get("eager"), "onnxruntime": runtimes.get("onnxruntime"),
                     "compile": runtimes.get("compile"), "ours": runtimes.get("accelerated")},
        "ours_vs": base.get("accelerated_vs", {}),
        "baseline_notes": {k: v.get("note") for k, v in base.get("runtimes", {}).items()},
        "reported_speedup": reported, "independent": independent,
        "reported_over_independent": (reported / independent["speedup"]
                                      if reported and independent["speedup"] else None),
        "quality": _quality(dense, fast, test_batches, labels if len(test_batches) * batch
                            == len(test) else None),
        "candidates": report.candidates, "held_out": report.held_out,
        "params": [report.params_before, report.params_after],
    }
    agree = row["reported_over_independent"]
    row["within_10_percent"] = agree is not None and abs(agree - 1.0) <= 0.10
    vs = row["ours_vs"]
    print(f"{name} batch {batch}: chose {report.chosen}; eager {_us(runtimes.get('eager'))}, "
          f"ORT {_us(runtimes.get('onnxruntime'))}, compile {_us(runtimes.get('compile'))}, "
          f"ours {_us(runtimes.get('accelerated'))} (x{vs.get('eager', float('nan')):.2f} eager,"
          f" x{vs.get('onnxruntime', float('nan')):.2f} ORT); reported {reported:.2f}x, "
          f"independent {independent['speedup']:.2f}x; mismatches "
          f"{row['quality']['prediction_mismatches']} of {row['quality']['images']}, "
          f"max |dy| {row['quality']['max_abs_logit_diff']:.2g}; {seconds:.0f} s")
    return row


def _us(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e6:.0f} us"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mnist-cnn,mobilenetv2",
                        help="comma-separated zoo names or run folders")
    parser.add_argument("--batch-sizes", default="1,8")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats")
    parser.add_argument("--quick", action="store_true",
                        help="1,000 test images, fewer repeats, no torch.compile")
    parser.add_argument("--json", default="benchmarks/results/accelerate_cnn.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    repeats = args.repeats or (5 if args.quick else 11)
    rows = [one(name, int(b), args.quick, repeats) for name in args.models.split(",")
            for b in args.batch_sizes.split(",")]
    result = {"machine": machine(), "quick": args.quick, "repeats": repeats, "results": rows,
              "command": "python -m benchmarks.accelerate_cnn " + " ".join(
                  f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                  if k not in ("quick", "json") and v is not None)
              + (" --quick" if args.quick else "")}
    if args.json:
        write_json(args.json, result)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
