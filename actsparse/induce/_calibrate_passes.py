"""Passes of :func:`actsparse.induce.calibrate.calibrate_thresholds` over the calibration data.

:func:`measure_windows` runs the model with every threshold in place and keeps a fine |a|
window around each (:class:`ThresholdWindow`); :func:`greedy_errors` measures the output error
of thresholding one layer at a time on a density grid, for the greedy allocation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from actsparse._hooks import Target, evaluating, first_tensor, hooked, parse_layer_name
from actsparse.induce.insert import insert_threshold, remove_threshold, threshold_module_name
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


def measure_windows(model: nn.Module, data: list[Any], input_key: int | str,
             thresholds: dict[str, float]) -> dict[str, ThresholdWindow | None]:
    """One pass with the thresholds in place: a fine |a| window around each threshold."""
    windows: dict[str, ThresholdWindow | None] = {
        name: ThresholdWindow(t) if t > 0 else None for name, t in thresholds.items()}
    targets = [Target(name, threshold_module_name(name), True)
               for name, w in windows.items() if w is not None]
    mask: list[Tensor | None] = [None]

    def observe(name: str, x: Tensor) -> None:
        window = windows[parse_layer_name(name).key]
        if window is not None and x.is_floating_point():
            window.update(valid_positions(x, mask[0]))

    with evaluating(model), torch.inference_mode(), hooked(model, targets, observe):
        device = model_device(model)
        for i, batch in enumerate(data):
            args, kwargs, mask[0] = unpack_batch(batch, i, input_key, device)
            model(*args, **kwargs)
    return windows


def greedy_grid(prof: Profile, targets: list[Target], step: float
                 ) -> dict[str, list[tuple[float, float]]]:
    """Per layer, (density, threshold) pairs below its dense density, ``step`` apart."""
    grid: dict[str, list[tuple[float, float]]] = {}
    for t in targets:
        layer = prof[t.name]
        top = min(1.0, layer.density)
        points = []
        k = 1
        while top - k * step > 1e-9:
            d = top - k * step
            points.append((d, layer.quantile(1.0 - d)))
            k += 1
        grid[t.name] = points
    return grid


def greedy_errors(model: nn.Module, data: list[Any], input_key: int | str,
                  grid: dict[str, list[tuple[float, float]]]
                  ) -> tuple[dict[str, list[tuple[float, float]]], int]:
    """Relative squared error of the model output with one layer thresholded at a time."""
    forwards = 0
    with evaluating(model), torch.inference_mode():
        reference = [(output_tensor(out), mask) for out, mask in
                     run_batches(model, data, input_key)]
        errors: dict[str, list[tuple[float, float]]] = {}
        for name, points in grid.items():
            errors[name] = []
            try:
                for density, threshold in points:
                    insert_threshold(model, name, threshold)
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
