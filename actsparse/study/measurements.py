"""Everything the study measures on one trained run, cached in the run's ``measure.json``.

For a finished run (``actsparse.study.runs``) on its test split:

- ``test_accuracy``, ``train_accuracy`` and ``gap`` (train - test), from ``metrics.json``;
- ``noise_curve`` (correct predictions per level) and ``noise_score`` (their sum), Numenta's
  protocol (:mod:`actsparse.study.noise`);
- ``density``: per hidden layer, the fraction of nonzero activations over the test set
  (a Profile), and ``mean_density`` over the hidden layers;
- ``overlap`` per hidden layer (:func:`actsparse.interpret.overlap.class_overlap`: mean Jaccard
  of active sets within and between classes, its chance level at that density) and
  ``selectivity`` per hidden layer (:func:`actsparse.interpret.selectivity.class_selectivity`,
  the mean class-selectivity index);
- ``flops``: per Linear/Conv2d layer and in total, dense FLOPs per image and the FLOPs a
  kernel that skips zero inputs would execute at the input density seen on the test set
  (:func:`actsparse.exploit.flops.layer_flops`); other layers with weights (the sparse-coding
  front end's iterations) are not counted and are listed in ``uncounted``;
- ``params``: parameters before and after removing the units never active on the test set
  (:func:`actsparse.exploit.prune.prune_dead_units`; exact on the test set by construction);
- ``latency``: batch-1 CPU latency of three models timed interleaved, image by image, over
  ``latency_images`` test images in one loop: the dense reference (the same architecture
  with plain ReLUs, freshly initialised: a dense network's time does not depend on its
  weights), this model as trained, and this model after
  :func:`actsparse.exploit.accelerate.accelerate` (dead units pruned, sparse-input kernels
  swapped in where they measured faster). The figures are the medians of the per-image time
  ratios: ``speedup_vs_dense`` (reference / accelerated) and ``speedup_vs_own`` (as trained /
  accelerated);
- ``examples``: per conv hidden layer, the fraction of channels active at each position for
  the first few test images (for the report's activation maps).

The cache key is the run's config and the measurement settings: a rerun of the study reuses
the file; more epochs (a new config) measure again.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from actsparse._hooks import parse_layer_name
from actsparse._jsonio import write_json
from actsparse._timing import Timings, interleaved
from actsparse.study.noise import NOISE_LEVELS, noise_curve
from actsparse.train.checkpoint import FILE_NAME, load_checkpoint
from actsparse.train.loop import TrainConfig
from actsparse.train.models import ModelConfig, build_model
from actsparse.train.spec import parse_sparsity

MEASURE_FILE = "measure.json"
VERSION = 1  # bump when a measurement changes meaning: cached files are then redone


@dataclass(frozen=True)
class MeasureSettings:
    """How a run is measured (part of the cache key).

    Example:
        >>> MeasureSettings().noise_levels[-1], MeasureSettings().latency_images
        (0.5, 300)
    """

    noise_levels: tuple[float, ...] = NOISE_LEVELS
    noise_seed: int = 0  # the same noisy images for every run: a paired comparison
    per_class: int = 100  # codes per class kept for the overlap (pairs grow as its square)
    latency_images: int = 300  # test images timed at batch 1, interleaved
    latency_warmup: int = 30
    calibration_images: int = 2000  # accelerate's profile/pruning data (batches of 500)
    swap_timing_images: int = 16  # batch-1 images on which accelerate times its swaps
    example_images: int = 4
    batch_size: int = 1000
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))


def load_run_model(run: str | Path, config: TrainConfig) -> tuple[nn.Module, ModelConfig]:
    """The trained model of a run folder (eval mode) and its shape, rebuilt from its checkpoint.

    Example:
        >>> load_run_model("/nonexistent", TrainConfig())
        Traceback (most recent call last):
        ...
        FileNotFoundError: no checkpoint at /nonexistent/checkpoint.safetensors
    """
    ckpt = load_checkpoint(Path(run) / FILE_NAME)
    mcfg = ModelConfig.from_dict(ckpt.run["model_config"])
    torch.manual_seed(config.seed)  # construction may draw (e.g. a front end's dictionary)
    model = build_model(mcfg, parse_sparsity(config.sparsity))
    model.load_state_dict(ckpt.model)
    return model.eval(), mcfg


def cache_key(config: TrainConfig, settings: MeasureSettings, white: float) -> dict[str, Any]:
    """What a cached ``measure.json`` must match to be reused."""
    return json.loads(json.dumps({"version": VERSION, "config": asdict(config),
                                  "settings": settings.to_dict(), "white": white}))


def cached(run: str | Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The run's cached measurements if they were made with ``key``, else None.

    Example:
        >>> import tempfile
        >>> cached(tempfile.mkdtemp(), {}) is None
        True
    """
    file = Path(run) / MEASURE_FILE
    if not file.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if data.get("key") == key else None


def measure_run(
    run: str | Path,
    config: TrainConfig,
    metrics: dict[str, Any],
    *,
    white: float,
    settings: MeasureSettings | None = None,
) -> dict[str, Any]:
    """Measure the trained run in folder ``run`` (see the module docstring); cache the result.

    Args:
        run: the run folder (checkpoint and metrics.json of ``config``).
        config: the run's training config.
        metrics: its ``metrics.json`` (accuracies).
        white: the value of noisy pixels (:func:`actsparse.study.noise.white_value`).
        settings: how to measure; the defaults are the study's.

    Returns the measurements (also written to ``run/measure.json``), reused when the cached
    file has the same config and settings.
    """
    settings = settings or MeasureSettings()
    key = cache_key(config, settings, white)
    found = cached(run, key)
    if found is not None:
        return found
    from actsparse import zoo

    t0 = time.perf_counter()
    model, mcfg = load_run_model(run, config)
    layers = list(getattr(model, "hidden_layers", []))
    test = zoo.load_data(config.data, split="test", limit=config.test_limit)
    if not isinstance(test, zoo.ImageData):
        raise ValueError(f"the study needs labelled images; {config.data!r} is {test.kind} data")
    images, labels = test.images, test.labels
    batches = [(images[i:i + settings.batch_size], labels[i:i + settings.batch_size])
               for i in range(0, len(labels), settings.batch_size)]
    result: dict[str, Any] = {"key": key, "variant_spec": config.sparsity, "seed": config.seed,
                              "test_images": len(labels)}
    result["test_accuracy"] = float(metrics["test_accuracy"])
    result["train_accuracy"] = float(metrics["train_accuracy"])
    result["gap"] = result["train_accuracy"] - result["test_accuracy"]
    result["train_seconds"] = float(metrics.get("seconds", 0.0))

    curve = noise_curve(model, images, labels, white=white, levels=settings.noise_levels,
                        seed=settings.noise_seed, batch_size=settings.batch_size)
    result["noise_levels"] = list(settings.noise_levels)
    result["noise_curve"] = curve
    result["noise_score"] = sum(curve)
    result["noise_max"] = len(labels) * len(settings.noise_levels)

    prof = _profile(model, batches, layers)
    with _quiet_export():
        result.update(_measure_rest(model, mcfg, prof, batches, layers, images, settings))
    result["threads"] = torch.get_num_threads()
    result["measure_seconds"] = time.perf_counter() - t0
    write_json(Path(run) / MEASURE_FILE, result, indent=1)
    return result


def _measure_rest(model: nn.Module, mcfg: ModelConfig, prof: Any,
                  batches: list[tuple[Tensor, Tensor]], layers: list[str], images: Tensor,
                  settings: MeasureSettings) -> dict[str, Any]:
    result: dict[str, Any] = {}
    result["density"] = {name: prof[name].density for name in layers}
    result["mean_density"] = statistics.fmean(result["density"].values()) if layers else None
    result["input_density"] = {n: prof[n].density for n in prof.names
                               if parse_layer_name(n).on_input}
    result["flops"] = _flops(model, prof)
    result["params"] = _pruned_params(model, prof, images[:2])
    result["overlap"] = _overlap(model, batches, layers, settings)
    result["selectivity"] = _selectivity(model, batches, layers)
    result["examples"] = _examples(model, images[:settings.example_images], layers)
    result["latency"] = _latency(model, mcfg, images, settings)
    return result


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """Silence torch.export's warnings (a whole graph) when pruning cannot trace a layer;
    the reason is kept in ``params['skipped']``."""
    logger = logging.getLogger("torch.fx.experimental.symbolic_shapes")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _profile(model: nn.Module, batches: list[tuple[Tensor, Tensor]], layers: list[str]) -> Any:
    import actsparse

    return actsparse.profile(model, batches, layers=layers or None, inputs=True)


def _flops(model: nn.Module, prof: Any) -> dict[str, Any]:
    from actsparse.exploit.flops import layer_flops

    rows = layer_flops(model, prof)
    dense = sum(r["dense_flops"] for r in rows)
    skip = sum(r["sparse_flops"] for r in rows)
    counted = {r["name"] for r in rows}
    uncounted = [name for name, m in model.named_modules()  # e.g. a sparse-coding front end
                 if name and name not in counted and not list(m.children())
                 and any(t.dim() >= 2 for t in (*m.parameters(False), *m.buffers(False)))]
    return {"dense": dense, "skip_zero": skip, "ratio": skip / dense if dense else None,
            "uncounted": uncounted,
            "layers": [{k: r[k] for k in ("name", "kind", "input_density", "dense_flops",
                                          "sparse_flops")} for r in rows]}


def _pruned_params(model: nn.Module, prof: Any, example: Tensor) -> dict[str, Any]:
    """Parameters before and after pruning the units dead on the test set (a copy is pruned)."""
    from actsparse.exploit.prune import prune_dead_units

    pruned = copy.deepcopy(model)
    for module in pruned.modules():  # torch.export cannot trace the native k-WTA kernel
        if hasattr(module, "native"):
            setattr(module, "native", False)  # noqa: B010
    report = prune_dead_units(pruned, prof, example=example)
    return {"before": report.params_before, "after": report.params_after,
            "ratio": report.params_after / report.params_before if report.params_before else None,
            "skipped": dict(report.skipped)}


def _overlap(model: nn.Module, batches: list[tuple[Tensor, Tensor]], layers: list[str],
             settings: MeasureSettings) -> dict[str, Any]:
    from actsparse.interpret.overlap import class_overlap

    found = class_overlap(model, batches, layers=layers or None, per_class=settings.per_class,
                          seed=settings.noise_seed)
    return {name: o.to_dict() for name, o in found.items()}


def _selectivity(model: nn.Module, batches: list[tuple[Tensor, Tensor]], layers: list[str]
                 ) -> dict[str, Any]:
    from actsparse.interpret.selectivity import class_selectivity

    found = class_selectivity(model, batches, layers=layers or None)
    keep = ("units", "fired_units", "mean_index", "median_index")
    return {name: {k: s.to_dict()[k] for k in keep} for name, s in found.items()}


def _examples(model: nn.Module, images: Tensor, layers: list[str]) -> dict[str, Any]:
    from actsparse.measure.examples import example_maps

    try:
        ex = example_maps(model, images, images, layers=layers or None)
    except ValueError:  # no conv activation (an MLP): no maps to draw
        return {}
    return {name: [[[round(float(v), 4) for v in row] for row in m] for m in maps]
            for name, maps in ex.maps.items()}


def _latency(model: nn.Module, mcfg: ModelConfig, images: Tensor,
             settings: MeasureSettings) -> dict[str, Any]:
    """Batch-1 latency: dense reference, this model, and this model after accelerate()."""
    from actsparse.exploit.accelerate import accelerate

    n_swap, n_cal = settings.swap_timing_images, settings.calibration_images
    calib = [images[i:i + 1] for i in range(min(n_swap, len(images)))]
    calib += [images[i:i + 500] for i in range(0, min(n_cal, len(images)), 500)]
    fast, report = accelerate(model, calib, timing_batches=len(calib[:n_swap]), repeats=3)
    with torch.random.fork_rng():  # the reference's weights do not matter, only its shape
        reference = build_model(mcfg, parse_sparsity("none")).eval()
    timed = images[:settings.latency_images]
    times = _per_image_times([reference, model, fast], timed, settings.latency_warmup)
    ref_us, own_us, acc_us = (t * 1e6 for t in times.medians)
    totals = report.to_dict()["totals"]
    return {
        "images": len(timed),
        "median_us": {"dense_reference": ref_us, "as_trained": own_us, "accelerated": acc_us},
        "speedup_vs_dense": times.ratio(0, 2),
        "speedup_vs_own": times.ratio(1, 2),
        "swapped": totals["swapped"],
        "accelerated_params": totals["params_after"],
        "accelerated_flops": totals["executed_flops"],
        "top1_agreement": totals["top1_agreement"],
        "threads": torch.get_num_threads(),
    }


def _per_image_times(models: list[nn.Module], images: Tensor, warmup: int) -> Timings:
    """Seconds per image of each model: repeat ``r`` runs every model on image ``r``, interleaved.

    The first ``warmup`` images are run once by every model, untimed, before the timed ones.
    """
    singles = [images[i:i + 1] for i in range(len(images))]  # sliced before timing
    warm = singles[:warmup]

    def call(model: nn.Module) -> Callable[[], object]:
        feed = iter([*warm, *singles])  # each model reads its own copy of the image sequence
        return lambda: model(next(feed))

    with torch.inference_mode():
        return interleaved([call(m.eval()) for m in models], len(singles), len(warm))
