"""``actsparse accelerate``: accelerate a zoo model, sweep densities, write files.

``actsparse accelerate --model mnist-cnn --data mnist --out runs/acc`` writes:

- ``accelerate.json``: the :class:`AccelerateReport` of the chosen setting, the quality of the
  accelerated model on held-out data, the sweep, and the command line;
- ``report.html``: the activation profile of the dense model (the usual report);
- ``accelerate.html``: the per-layer table and the speed-accuracy sweep as a Pareto plot;
- ``accelerated.onnx`` with ``--onnx`` (its onnxruntime difference goes into the JSON).

The first ``--limit`` examples of the split calibrate (thresholds, pruning, swaps, timings);
the next ``--limit`` examples are held out to measure quality.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor, nn

import actsparse
from actsparse import report, zoo
from actsparse._jsonio import write_json
from actsparse._out_folder import staged_out
from actsparse.cli.common import (
    add_batch_size,
    add_max_length,
    add_model_and_data,
    add_out,
    batch_size_for,
    check_at_least,
    command_line,
    load_data_for,
    offline,
    positive_float,
    positive_int,
)
from actsparse.exploit.accelerate_report import AccelerateReport
from actsparse.exploit.density_sweep import accelerate_and_compare, density_sweep
from actsparse.exploit.onnx_export import check_onnx, export_onnx
from actsparse.exploit.quality import NOTES, compare, main_metric
from actsparse.report.accelerate_page import write_accelerate_page as write_page


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``accelerate`` to the ``actsparse`` subparsers ``sub``; return its parser.

    Example:
        >>> parser = argparse.ArgumentParser(prog="actsparse")
        >>> p = add_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["accelerate", "--model", "mnist-cnn", "--data", "mnist",
        ...                           "--out", "r", "--sweep", "1,0.5"])
        >>> args.target_density, args.sweep, args.limit
        (None, [1.0, 0.5], 512)
    """
    p: argparse.ArgumentParser = sub.add_parser(
        "accelerate", help="prune dead units, threshold and swap in sparse kernels; measure")
    add_model_and_data(p)
    p.add_argument("--limit", type=positive_int, default=512,
                   help="examples to calibrate on; as many again are held out (default: 512)")
    add_batch_size(p)
    add_max_length(p)
    p.add_argument("--target-density", type=_density, default=None,
                   help="threshold Linear inputs to this density (default: no thresholds)")
    p.add_argument("--layers", nargs="+", default=None,
                   help="Linear layers to threshold (names/globs; default: all)")
    p.add_argument("--sweep", type=_densities, default=None,
                   help="comma-separated target densities for the speed-accuracy sweep, "
                        "e.g. 1.0,0.7,0.5,0.3 (1.0: no thresholds)")
    p.add_argument("--min-speedup", type=positive_float, default=1.1)
    p.add_argument("--repeats", type=positive_int, default=5,
                   help="timing repeats (medians reported)")
    p.add_argument("--no-prune", action="store_true", help="keep dead units")
    p.add_argument("--onnx", action="store_true", help="also write accelerated.onnx")
    p.add_argument("--baselines", action="store_true",
                   help="also time eager, ONNX Runtime and torch.compile dense (in the JSON)")
    add_out(p)
    return p


def _density(text: str) -> float:
    value = float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"a density is in (0, 1], got {text}")
    return value


def _densities(text: str) -> list[float]:
    return [_density(t) for t in text.split(",") if t.strip()]


def run(args: argparse.Namespace) -> int:
    """Handle ``actsparse accelerate``."""
    return run_accelerate(
        model_name=args.model, data_name=args.data, out=Path(args.out), split=args.split,
        limit=args.limit, batch_size=args.batch_size, max_length=args.max_length,
        target_density=args.target_density, layers=args.layers, sweep=args.sweep or [],
        min_speedup=args.min_speedup, repeats=args.repeats, prune=not args.no_prune,
        onnx=args.onnx, baselines=args.baselines)


@dataclass
class Workload:
    """A zoo model with its calibration and held-out batches."""

    model: zoo.ZooModel
    calibration: list[Any]
    held_out: list[Any]
    calibration_examples: int
    held_out_examples: int
    batch_size: int
    labels: Tensor | None  # of the held-out images, when batches hold one view per image
    vocab_size: int | None

    def compare(self, fast: nn.Module) -> dict[str, float]:
        """The quality of ``fast`` against the dense model on the held-out batches."""
        return compare(self.model.module, fast, self.held_out, labels=self.labels,
                       vocab_size=self.vocab_size)


def load_workload(model_name: str, data_name: str, *, split: str, limit: int,
                  batch_size: int | None, max_length: int) -> Workload:
    """The model and ``2 * limit`` examples of the split: the first half calibrates."""
    zm = zoo.load_model(model_name)
    data = load_data_for(zm, model_name, data_name, split, 2 * limit)
    if len(data) < 2:
        raise ValueError(f"data {data_name!r} has {len(data)} examples; need at least 2")
    half = min(limit, len(data) // 2)
    calib_data, held_data = data[:half], data[half:2 * half]
    size = batch_size_for(zm.kind, batch_size)
    calib = list(zm.batches(calib_data, batch_size=size, max_length=max_length))
    held = list(zm.batches(held_data, batch_size=size, max_length=max_length))
    per_example = (sum(b.shape[0] for b in held) == len(held_data)
                   if zm.kind in ("image", "speech") else False)
    labels = getattr(held_data, "labels", None) if per_example else None  # not with crops
    vocab = len(zm.tokenizer) if zm.tokenizer is not None else None
    return Workload(zm, calib, held, len(calib_data), len(held_data), size, labels, vocab)


def run_accelerate(
    *, model_name: str, data_name: str, out: Path, split: str = "test", limit: int = 512,
    batch_size: int | None = None, max_length: int = 128, target_density: float | None = None,
    layers: list[str] | None = None, sweep: list[float] | None = None, min_speedup: float = 1.1,
    repeats: int = 5, prune: bool = True, onnx: bool = False, baselines: bool = False,
) -> int:
    """Accelerate a zoo (or user) model on a data set; write the JSON, report and sweep page."""
    check_at_least("--limit", limit, 1)
    offline()
    work = load_workload(model_name, data_name, split=split, limit=limit,
                         batch_size=batch_size, max_length=max_length)
    options: dict[str, Any] = {"layers": layers, "prune": prune, "min_speedup": min_speedup,
                               "repeats": repeats, "labels": work.labels,
                               "vocab_size": work.vocab_size}
    fast, rep, quality = accelerate_and_compare(work.model.module, work.calibration,
                                                work.held_out, target_density=target_density,
                                                baselines=baselines, **options)
    print(rep.summary())
    dense_quality = work.compare(work.model.module)
    points = density_sweep(work.model.module, work.calibration, work.held_out, sweep or [],
                           log=print, **options)
    result: dict[str, Any] = {
        "command": command_line(), "model": model_name, "data": data_name, "split": split,
        "calibration_examples": work.calibration_examples,
        "held_out_examples": work.held_out_examples, "batch_size": work.batch_size,
        "quality": quality, "dense_quality": dense_quality,
        "quality_notes": {k: NOTES[k] for k in quality}, "report": rep.to_dict(),
        "sweep": points,
    }
    title = f"{model_name} on {data_name}"
    with staged_out(out) as tmp:  # every file, or none
        if onnx:
            path = export_onnx(fast, work.calibration[0], tmp / "accelerated.onnx")
            result["onnx"] = {"path": str(out / path.name),
                              "max_abs_diff": check_onnx(path, fast, work.held_out[:2])}
        # default=str: settings may hold objects JSON has no type for (layer types)
        write_json(tmp / "accelerate.json", result, default=str)
        _write_pages(tmp, work, rep, points, main_metric(quality), title,
                     {"model": model_name, "data": data_name, "split": split})
    print(f"wrote {out / 'accelerate.json'}, {out / 'report.html'}, {out / 'accelerate.html'}")
    return 0


def _write_pages(out: Path, work: Workload, rep: AccelerateReport, points: list[dict[str, Any]],
                 metric: str, title: str, meta: dict[str, Any]) -> None:
    """``report.html`` (the dense model's profile) and ``accelerate.html`` (table, Pareto)."""
    dense_profile = actsparse.profile(work.model.module, work.calibration, inputs=True)
    dense_profile.meta.update(**meta, limit=work.calibration_examples)
    report.write_report(dense_profile, out / "report.html", title=title)
    write_page(out / "accelerate.html", title=f"accelerate {title}", summary=rep.summary(),
               sweep=[p for p in points if p["speedup"] is not None], metric=metric,
               metric_note=NOTES.get(metric, metric))
