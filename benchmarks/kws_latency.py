"""Streaming keyword spotting at batch 1: a k-WTA DS-CNN after accelerate() against the dense
runtimes a smart speaker would deploy with.

A stream is the test clips of ``speech-commands`` end to end; every 100 ms the last 1 s window
is turned into its log-mels (the run folder's own features,
:class:`~actsparse.train.speech_inputs.LogMelInput`) and passed through the network at batch 1.
Two times per runtime, medians of interleaved repeats (each repeat: one window step of every
runtime in turn, the next window of ``--windows`` each repeat):

- ``network``: the network call on the window's log-mels;
- ``step``: the whole window step, log-mel of the window then the network.

Runtimes, at 1 and 2 threads (torch threads, and ONNX Runtime's ``intra_op_num_threads``):

- ``eager``: the k-WTA model in PyTorch (``inference_mode``);
- ``onnxruntime``: the k-WTA model exported to ONNX (:func:`actsparse.export_onnx`: k-WTA as
  TopK) and run densely by ONNX Runtime's ``CPUExecutionProvider``, the goal's baseline;
- ``accelerated``: what the public ``actsparse.accelerate(model, batches, batch_size=1)``
  returns, given calibration windows of the validation split;
- ``eager_dense`` / ``onnxruntime_dense``: a ReLU DS-CNN trained the same way (``--dense``).

Prediction identity: the accelerated model against eager on every clip of the test split, at
batch 1 (top-1 mismatches and the largest logit difference).

    actsparse train --model ds-cnn --data speech-commands --sparsity kwta:0.15 --epochs 2 \\
        --threads 1 --out runs/kws-kwta
    actsparse train --model ds-cnn --data speech-commands --epochs 2 --threads 1 \\
        --out runs/kws-dense
    .venv/bin/python -m benchmarks.kws_latency --kwta runs/kws-kwta --dense runs/kws-dense
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

import actsparse
from actsparse import zoo
from actsparse._jsonio import write_json
from actsparse._timing import interleaved, machine
from actsparse.exploit.onnx_export import export_onnx
from actsparse.train.checkpoint import FILE_NAME, load_checkpoint

RATE, WINDOW, HOP = 16000, 16000, 1600  # 1 s windows every 100 ms
GOAL = 2.0  # the k-WTA model after accelerate() against the same model in ONNX Runtime


def windows(waves: Tensor, count: int) -> list[Tensor]:
    """``count`` consecutive 1 s windows ``(1, 16000)``, 100 ms apart, of the clips end to end."""
    stream = waves.reshape(-1)
    need = WINDOW + HOP * (count - 1)
    if stream.numel() < need:
        raise ValueError(f"{stream.numel()} samples make fewer than {count} windows")
    return [stream[i * HOP:i * HOP + WINDOW][None].contiguous() for i in range(count)]


def ort_runner(model: nn.Module, example: Tensor, threads: int, folder: Path
               ) -> Callable[[Tensor], Tensor]:
    """The model exported to ONNX and run by ONNX Runtime (CPU, ``threads`` intra-op)."""
    import onnxruntime as ort

    path = export_onnx(model, example, folder / f"{id(model)}.onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def call(x: Tensor) -> Tensor:
        return torch.from_numpy(session.run(None, {name: x.numpy()})[0])
    return call


def torch_runner(model: nn.Module) -> Callable[[Tensor], Tensor]:
    def call(x: Tensor) -> Tensor:
        with torch.inference_mode():
            return model(x)
    return call


def time_runtimes(runners: dict[str, Callable[[Tensor], Tensor]], features: Callable[[Tensor],
                  Tensor], stream: list[Tensor], repeats: int) -> dict[str, dict[str, Any]]:
    """Median seconds per window of each runner's network call and whole step: one repeat is
    one window step of every runner in turn (the next window of the stream each repeat), so
    the medians are of single calls, the time a speaker waits once per 100 ms."""
    mels = [features(w) for w in stream]
    names = list(runners)

    def stepper(run: Callable[[Tensor], Tensor], step: bool) -> Callable[[], None]:
        at = [0]

        def go() -> None:
            i = at[0] % len(stream)
            at[0] += 1
            run(features(stream[i]) if step else mels[i])
        return go

    out: dict[str, dict[str, Any]] = {n: {} for n in names}
    for what, step in (("network", False), ("step", True)):
        t = interleaved([stepper(runners[n], step) for n in names], repeats, warmup=3)
        j = names.index("onnxruntime")
        for i, n in enumerate(names):
            out[n][f"{what}_s"] = statistics.median(t.seconds[i])
            out[n][f"{what}_mean_s"] = statistics.mean(t.seconds[i])
            out[n][f"{what}_vs_onnxruntime"] = statistics.median(  # per-repeat ratios
                a / b for a, b in zip(t.seconds[j], t.seconds[i], strict=True))
    return out


def identity(dense: nn.Module, fast: nn.Module, mels: Tensor) -> dict[str, Any]:
    """Top-1 mismatches and the largest logit difference of ``fast`` against ``dense``, batch 1."""
    wrong, worst = 0, 0.0
    with torch.inference_mode():
        for i in range(mels.shape[0]):
            a, b = dense(mels[i:i + 1]), fast(mels[i:i + 1])
            wrong += int(a.argmax(1) != b.argmax(1))
            worst = max(worst, float((a - b).abs().max()))
    return {"clips": int(mels.shape[0]), "prediction_mismatches": wrong,
            "max_abs_logit_diff": worst}


def one_thread_count(threads: int, kwta: zoo.ZooModel, dense: zoo.ZooModel | None,
                     calib: list[Tensor], stream: list[Tensor], test_mels: Tensor,
                     repeats: int, folder: Path) -> dict[str, Any]:
    torch.set_num_threads(threads)
    features = kwta.features
    assert features is not None
    t0 = time.perf_counter()
    fast, report = actsparse.accelerate(kwta.module, calib, batch_size=1, repeats=repeats)
    seconds = time.perf_counter() - t0
    example = features(stream[0])
    runners = {"eager": torch_runner(kwta.module),
               "onnxruntime": ort_runner(kwta.module, example, threads, folder),
               "accelerated": torch_runner(fast)}
    if dense is not None:
        runners["eager_dense"] = torch_runner(dense.module)
        runners["onnxruntime_dense"] = ort_runner(dense.module, example, threads, folder)
    times = time_runtimes(runners, features, stream, repeats)
    same = identity(kwta.module, fast, test_mels)
    ort_same = (identity(kwta.module, _as_module(runners["onnxruntime"]), test_mels)
                if threads == 1 else None)  # the export does not depend on threads
    vs = times["accelerated"]["network_vs_onnxruntime"]
    row = {"threads": threads, "accelerate_seconds": seconds, "chosen": report.chosen,
           "swapped": report.swapped, "reported_speedup": report.measured_speedup,
           "plan": fast.plan_summary() if hasattr(fast, "plan_summary") else None,
           "summary": report.summary(), "times": times, "identity": same,
           "onnxruntime_identity": ort_same, "goal_met": vs >= GOAL}
    line = ", ".join(f"{n} {v['network_s'] * 1e6:.0f}/{v['step_s'] * 1e6:.0f} us"
                     for n, v in times.items())
    print(f"{threads} thread(s): chose {report.chosen}; network/step {line}; accelerated vs "
          f"ORT x{vs:.2f} (goal {GOAL}x: {'met' if row['goal_met'] else 'not met'}); "
          f"mismatches {same['prediction_mismatches']} of {same['clips']}, max |dy| "
          f"{same['max_abs_logit_diff']:.2g}; accelerate {seconds:.0f} s", flush=True)
    return row


class _as_module(nn.Module):  # noqa: N801  (a runner seen as a module, for identity())
    def __init__(self, run: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.run = run

    def forward(self, x: Tensor) -> Tensor:
        return self.run(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kwta", required=True, help="run folder of the k-WTA ds-cnn")
    parser.add_argument("--dense", default=None, help="run folder of a dense ds-cnn")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--windows", type=int, default=50,
                        help="windows of the stream, 100 ms apart, cycled through")
    parser.add_argument("--repeats", type=int, default=200,
                        help="interleaved repeats: one window step of each runtime")
    parser.add_argument("--calibration", type=int, default=48,
                        help="validation clips that calibrate accelerate() (batch 1)")
    parser.add_argument("--test-limit", type=int, default=None,
                        help="test clips for prediction identity (default: all)")
    parser.add_argument("--json", default="benchmarks/results/kws_latency.json")
    args = parser.parse_args()
    kwta = zoo.load_model(args.kwta)
    dense = zoo.load_model(args.dense) if args.dense else None
    if kwta.kind != "speech" or kwta.features is None:
        raise SystemExit(f"{args.kwta} is not a keyword-spotting run folder")
    data = str(load_checkpoint(Path(args.kwta) / FILE_NAME).run["data"])
    test = zoo.load_speech(data, "test", args.test_limit)
    val = zoo.load_speech(data, "val", args.calibration)
    calib = [kwta.features(val.waves[i:i + 1]) for i in range(len(val))]
    stream = windows(test.waves, args.windows)
    test_mels = kwta.features(test.waves)
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for threads in (int(t) for t in args.threads.split(",")):
            rows.append(one_thread_count(threads, kwta, dense, calib, stream, test_mels,
                                         args.repeats, Path(tmp)))
    result = {"machine": machine(), "command": "python -m benchmarks.kws_latency "
              + shlex.join(sys.argv[1:]), "kwta_run": args.kwta, "dense_run": args.dense,
              "data": data, "window_s": WINDOW / RATE, "hop_s": HOP / RATE,
              "windows": args.windows, "repeats": args.repeats,
              "calibration_clips": len(val), "goal": GOAL,
              "load_average_1min": {"before": load_before[0], "after": os.getloadavg()[0]},
              "run_metrics": {k: _metrics(p) for k, p in (("kwta", args.kwta),
                                                          ("dense", args.dense)) if p},
              "results": rows}
    if args.json:
        write_json(args.json, result)
        print(f"wrote {args.json}")


def _metrics(folder: str) -> dict[str, Any]:
    m = json.loads((Path(folder) / "metrics.json").read_text())
    return {k: m.get(k) for k in ("test_accuracy", "val_accuracy", "sparsity", "epochs",
                                  "best_epoch", "command")}


if __name__ == "__main__":
    main()
