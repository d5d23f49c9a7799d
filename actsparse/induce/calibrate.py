"""Training-free sparsity: magnitude thresholds calibrated to a target density per layer.

``calibrate_thresholds`` profiles the chosen layers once, reads each layer's threshold from its
|a| histogram (``LayerProfile.quantile(1 - target)``), inserts :class:`MagnitudeThreshold`
modules (see :mod:`actsparse.induce.insert`), then refines: a few passes over the calibration
batches, with every threshold in place, measure the density at each threshold exactly and the
|a| distribution around it on a fine grid (:class:`ThresholdWindow`), and move the thresholds.
The refinement fixes both the histogram's 7.5% bins and the drift that thresholds in early
layers cause in later ones. Memory is fixed per layer; the batches are kept as a list, so pass
calibration-sized data (a few batches).

Good layers to threshold are the inputs of the MLP down-projections, where a sparse-input
kernel can skip the zeroed columns of the weight:

    BERT-like (MiniLM):   layers="encoder.layer.?.output.dense", on="input"   (GELU output)
    Llama-like (SmolLM2): layers="model.layers.*.mlp.down_proj", on="input"   (SiLU(gate) * up)

The selection rule (``rule=``) says which inputs a threshold keeps: ``"magnitude"`` (``|x|``)
or ``"weight"`` (``|x_i| * ||W[:, i]||_2``, see :mod:`actsparse.induce.selection`); each
layer hits its target density under the chosen score. The result saves and loads with its rule
(:mod:`actsparse.induce.calibration_io`).

The argument checks are in :mod:`actsparse.induce._calibrate_args`, the passes over the data
in :mod:`actsparse.induce._calibrate_passes`, the result types in
:mod:`actsparse.induce.calibration` (re-exported here).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from torch import nn

from actsparse._hooks import LayerSpec
from actsparse.induce._calibrate_args import (
    batches_as_list,
    check_greedy_errors,
    check_profiled,
    check_settings,
    resolve_targets,
    targets_by_layer,
)
from actsparse.induce._calibrate_passes import (
    Scales,
    greedy_errors,
    greedy_grid,
    insert_scored,
    measure_windows,
    score_samples,
)
from actsparse.induce.allocate import greedy_densities
from actsparse.induce.calibration import Calibration, LayerCalibration
from actsparse.induce.insert import remove_threshold
from actsparse.induce.selection import Rule, ScoreSample, check_rule, column_norms
from actsparse.measure import profile

__all__ = ["Calibration", "LayerCalibration", "On", "Rule", "calibrate_thresholds"]

On = Literal["output", "input"]


def calibrate_thresholds(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    target_density: float | Mapping[str, float],
    layers: LayerSpec | Sequence[LayerSpec] | None = None,
    on: On = "output",
    rule: Rule = "magnitude",
    greedy: bool | Mapping[str, Sequence[tuple[float, float]]] = False,
    refine_passes: int = 3,
    tolerance: float = 0.002,
    greedy_step: float = 0.1,
    greedy_batches: int = 1,
    max_batches: int | None = None,
    input_key: int | str = 0,
) -> Calibration:
    """Insert magnitude thresholds so that each layer's activation density hits a target.

    Args:
        model: any ``nn.Module``; it is changed in place (call ``remove()`` to undo).
        batches: calibration data, as for :func:`actsparse.profile` (tensors, tuples, or dicts
            of keyword arguments whose ``attention_mask`` keeps padding out). Kept as a list.
        target_density: the fraction of activations to keep, in (0, 1]; or a dict from layer
            names or globs to densities (then ``layers`` defaults to its keys).
        layers: names, globs or module types, as for :func:`actsparse.profile`. ``None``: every
            activation module (``on='output'``) or every Linear layer (``on='input'``).
        on: threshold each layer's ``'output'``, or the ``'input'`` of each Linear layer
            (``NAME:input`` in ``layers`` always means the input).
        rule: the selection rule: ``"magnitude"`` zeroes ``|x_i| <= t``; ``"weight"``
            (Linear inputs only) zeroes ``|x_i| * ||W[:, i]||_2 <= t``, ``W`` the weight of the
            Linear that consumes ``x``, placed as the per-feature threshold ``t / ||W[:, i]||``.
            Either way each layer keeps ``target_density`` of its inputs.
        greedy: share the density out unevenly, keeping the mean across layers at
            ``target_density``: layers whose thresholding hurts the model output least get
            sparser (see :func:`actsparse.induce.allocate.greedy_densities`). Costs one forward
            of ``greedy_batches`` batches per layer and grid step; pass an earlier
            ``Calibration.greedy_errors`` instead of ``True`` to reuse its measurements.
        refine_passes: at most this many refinement passes after the first estimate.
        tolerance: stop refining once every layer is this close to its target on the
            calibration data.
        greedy_step: the density grid of the greedy allocation.
        greedy_batches: how many of the batches the greedy allocation evaluates on.
        max_batches: use only the first ``max_batches`` batches.
        input_key: which element of a tuple batch is the input.

    Returns:
        a :class:`Calibration` with each layer's threshold, target and density.

    Example:
        >>> import torch
        >>> from actsparse.induce.calibrate import calibrate_thresholds
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> net = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.GELU(),
        ...                           torch.nn.Linear(64, 4))
        >>> data = [torch.randn(128, 16) for _ in range(4)]
        >>> cal = calibrate_thresholds(net, data, target_density=0.3, layers="2", on="input")
        >>> [(name, round(layer.density, 2)) for name, layer in cal.layers.items()]
        [('2:input', 0.3)]
        >>> round(cal.measure([torch.randn(512, 16)])["2:input"], 1)
        0.3
        >>> cal.remove()
        >>> list(net[2].children())
        []
        >>> cal = calibrate_thresholds(net, data, target_density=0.3, layers="2", on="input",
        ...                            rule="weight")
        >>> cal.rule, tuple(net[2].input_threshold.threshold.shape)
        ('weight', (64,))
        >>> round(cal.measure([torch.randn(512, 16)])["2:input"], 1)
        0.3
        >>> cal.remove()
    """
    check_settings(on, refine_passes, tolerance, greedy_step, greedy_batches)
    check_rule(rule, on)
    if isinstance(target_density, Mapping) and layers is None:
        layers = list(target_density)
    targets = resolve_targets(model, layers, on)
    wanted = targets_by_layer(targets, target_density)
    if greedy is not False and isinstance(target_density, Mapping):
        raise ValueError("greedy=True shares out one target_density across the layers; "
                         "pass a number, not a dict")
    if greedy is True and float(target_density) < greedy_step:  # type: ignore[arg-type]
        raise ValueError(f"greedy allocation works on a grid of greedy_step={greedy_step}; "
                         f"target_density={target_density} is below it: pass a smaller step")
    data = batches_as_list(batches, max_batches)

    prof = profile(model, data, layers=[t.name for t in targets], input_key=input_key)
    check_profiled(prof, targets)
    dense = {t.name: prof[t.name].density for t in targets}
    result = Calibration({}, model, passes=1, rule=rule)
    scales: Scales = {}
    quantile: Callable[[str, float], float] | None = None
    if rule == "weight":
        scales = {t.name: column_norms(model.get_submodule(t.module_name)) for t in targets}
        samples = score_samples(model, data, input_key, targets, scales)
        result.passes += 1
        quantile = _sample_quantile(samples)
    if isinstance(greedy, Mapping):
        result.greedy_errors = check_greedy_errors(greedy, targets)
    elif greedy:
        grid = greedy_grid(prof, targets, greedy_step, quantile)
        result.greedy_errors, result.greedy_forwards = greedy_errors(
            model, data[:greedy_batches], input_key, grid, scales)
    if greedy is not False:
        wanted = greedy_densities(result.greedy_errors, float(target_density),  # type: ignore[arg-type]
                                  dense)
    thresholds = {name: (quantile(name, 1.0 - d) if quantile else prof[name].quantile(1.0 - d))
                  if d < 1.0 else 0.0 for name, d in wanted.items()}

    try:
        for name, value in thresholds.items():
            insert_scored(model, name, value, scales)
        for i in range(refine_passes + 1):
            windows = measure_windows(model, data, input_key, thresholds, scales)
            result.passes += 1
            measured = {n: w.density if w is not None else dense[n] for n, w in windows.items()}
            off = [n for n, w in windows.items()
                   if w is not None and abs(measured[n] - wanted[n]) > tolerance]
            if not off or i == refine_passes:
                break
            for name in off:
                window = windows[name]
                assert window is not None
                thresholds[name] = window.threshold_for(wanted[name])
                insert_scored(model, name, thresholds[name], scales)
    except BaseException:
        for t in targets:
            remove_threshold(model, t.name)
        raise

    for t in targets:
        result.layers[t.name] = LayerCalibration(
            t.name, thresholds[t.name], wanted[t.name], measured[t.name], dense[t.name])
    _warn_unreachable(result, tolerance)
    return result


def _sample_quantile(samples: dict[str, ScoreSample]) -> Callable[[str, float], float]:
    def quantile(name: str, q: float) -> float:
        return samples[name].quantile(q)
    return quantile


def _warn_unreachable(result: Calibration, tolerance: float) -> None:
    short = [f"{n} ({layer.dense_density:.3f})" for n, layer in result.layers.items()
             if layer.dense_density < layer.target - tolerance]
    if short:
        warnings.warn("these layers are sparser than their target before thresholding and are "
                      f"left as they are: {', '.join(short)}", stacklevel=3)
