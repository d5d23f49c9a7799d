"""Passes of :func:`actsparse.induce.calibrate.calibrate_thresholds` over the calibration data.

:func:`score_samples` samples each layer's scores under a selection rule (the first estimate
when the score is not the profiled ``|a|``); :func:`measure_windows` runs the model with every
threshold in place and keeps a fine score window around each (:class:`ThresholdWindow`);
:func:`greedy_errors` measures the output error of thresholding one layer at a time on a
density grid, for the greedy allocation. ``scales`` (per layer, ``None`` or the weight rule's
column norms, see :mod:`actsparse.induce.selection`) turn activations into scores and score
thresholds into module thresholds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

from actsparse._hooks import Target, evaluating, first_tensor, hooked, parse_layer_name
from actsparse.induce.insert import insert_threshold, remove_threshold, threshold_module_name
from actsparse.induce.selection import SAMPLE_SIZE, ScoreSample, module_threshold, scores
from actsparse.induce.window import ThresholdWindow
from actsparse.measure import Profile
from actsparse.measure.batches import model_device, unpack_batch


def run_batches(model: nn.Module, data: list[Any], input_key: int | str
              ) -> Iterator[tuple[Any, Tensor | None]]:
    """Run the model on each batch; yield (output, padding mask or None)."""
    device = model_device(model)
    for i, batch in enumerate(data):
        args, kwargs, mask = unpack_batch(batch, i, input_key, device)
        yield model(*args, **kwargs), mask


def valid_positions(x: Tensor, mask: Tensor | None) -> Tensor:
    """The positions of ``x`` that are not padding."""
    if mask is not None and x.dim() >= 2 and x.shape[:2] == mask.shape:
        return x[mask.to(x.device).bool()]
    return x


Scales = dict[str, Tensor | None]


def scored_pass(model: nn.Module, data: list[Any], input_key: int | str, targets: list[Target],
                scales: Scales, update: Callable[[str, Tensor], None]) -> None:
    """One pass over ``data``: ``update(layer, scores)`` with the non-padding scores of each
    target's input (``|x|``, times the column norms under the weight rule)."""
    mask: list[Tensor | None] = [None]  # the batch's padding mask, set before its forward

    def observe(name: str, x: Tensor) -> None:
        if x.is_floating_point():
            key = parse_layer_name(name).key
            update(key, scores(valid_positions(x, mask[0]), scales.get(key)))

    with evaluating(model), torch.inference_mode(), hooked(model, targets, observe):
        device = model_device(model)
        for i, batch in enumerate(data):
            args, kwargs, mask[0] = unpack_batch(batch, i, input_key, device)
            model(*args, **kwargs)


def score_samples(model: nn.Module, data: list[Any], input_key: int | str, targets: list[Target],
                  scales: Scales) -> dict[str, ScoreSample]:
    """One pass without thresholds: a random sample of each layer's scores."""
    samples = {t.name: ScoreSample(-(-SAMPLE_SIZE // len(data)), seed=i)
               for i, t in enumerate(targets)}

    def update(key: str, values: Tensor) -> None:
        if key in samples:
            samples[key].update(values)

    scored_pass(model, data, input_key, targets, scales, update)
    return samples


def insert_scored(model: nn.Module, name: str, threshold: float, scales: Scales) -> None:
    """Place score threshold ``threshold`` on layer ``name`` (per feature under the weight rule)."""
    insert_threshold(model, name, module_threshold(threshold, scales.get(name)))


def measure_windows(model: nn.Module, data: list[Any], input_key: int | str,
             thresholds: dict[str, float], scales: Scales | None = None
             ) -> dict[str, ThresholdWindow | None]:
    """One pass with the thresholds in place: a fine score window around each threshold."""
    windows: dict[str, ThresholdWindow | None] = {
        name: ThresholdWindow(t) if t > 0 else None for name, t in thresholds.items()}
    targets = [Target(name, threshold_module_name(name), True)
               for name, w in windows.items() if w is not None]

    def update(key: str, values: Tensor) -> None:
        window = windows[key]
        if window is not None:
            window.update(values)

    scored_pass(model, data, input_key, targets, scales or {}, update)
    return windows


def greedy_grid(prof: Profile, targets: list[Target], step: float,
                quantile: Callable[[str, float], float] | None = None
                 ) -> dict[str, list[tuple[float, float]]]:
    """Per layer, (density, threshold) pairs below its dense density, ``step`` apart.

    ``quantile(layer, q)`` gives the score quantile (default: the profile's ``|a|`` one).
    """
    grid: dict[str, list[tuple[float, float]]] = {}
    for t in targets:
        layer = prof[t.name]
        top = min(1.0, layer.density)
        points = []
        k = 1
        while top - k * step > 1e-9:
            d = top - k * step
            value = quantile(t.name, 1.0 - d) if quantile else layer.quantile(1.0 - d)
            points.append((d, value))
            k += 1
        grid[t.name] = points
    return grid


def greedy_errors(model: nn.Module, data: list[Any], input_key: int | str,
                  grid: dict[str, list[tuple[float, float]]], scales: Scales | None = None
                  ) -> tuple[dict[str, list[tuple[float, float]]], int]:
    """Relative squared error of the model output with one layer thresholded at a time."""
    scales = scales or {}
    forwards = 0
    with evaluating(model), torch.inference_mode():
        reference = [(output_tensor(out), mask) for out, mask in
                     run_batches(model, data, input_key)]
        errors: dict[str, list[tuple[float, float]]] = {}
        for name, points in grid.items():
            errors[name] = []
            try:
                for density, threshold in points:
                    insert_scored(model, name, threshold, scales)
                    err = num = 0.0
                    for (ref, mask), (out, _) in zip(
                            reference, run_batches(model, data, input_key), strict=True):
                        diff = valid_positions(output_tensor(out).float() - ref.float(), mask)
                        err += float(diff.square().sum())
                        num += float(valid_positions(ref.float(), mask).square().sum())
                    forwards += len(data)
                    errors[name].append((density, err / max(num, 1e-30)))
            finally:
                remove_threshold(model, name)
    return errors, forwards


def output_tensor(output: Any) -> Tensor:
    tensor = first_tensor(output)
    if tensor is None:
        raise TypeError(f"greedy allocation compares model outputs, but the model returned "
                        f"{type(output).__name__} with no tensor in it")
    return tensor
