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
"""

from __future__ import annotations

import fnmatch
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from actsparse._hooks import (
    INPUT_SUFFIX,
    LayerSpec,
    Target,
    first_tensor,
    hooked,
    select_layers,
)
from actsparse.induce.allocate import greedy_densities
from actsparse.induce.insert import (
    insert_threshold,
    inserted_thresholds,
    remove_threshold,
    threshold_module_name,
)
from actsparse.induce.magnitude import MagnitudeThreshold
from actsparse.induce.window import ThresholdWindow
from actsparse.measure import Profile, profile
from actsparse.measure.batches import model_device, unpack_batch

On = Literal["output", "input"]


@dataclass
class LayerCalibration:
    """One calibrated layer.

    Attributes:
        name: the layer, ``NAME`` (a module's output) or ``NAME:input`` (a Linear's input).
        threshold: the magnitude threshold: activations with ``|a| <= threshold`` become 0.
        target: the density asked for (after greedy allocation, this layer's share).
        density: the density measured on the calibration data with every threshold in place.
        dense_density: the fraction of nonzero activations before thresholding.
    """

    name: str
    threshold: float
    target: float
    density: float
    dense_density: float


@dataclass
class Calibration:
    """What :func:`calibrate_thresholds` did; ``remove()`` restores the model exactly.

    Attributes:
        layers: per-layer results, in module order.
        passes: forward passes over the calibration batches (profile and refinement).
        greedy_forwards: forward passes the greedy allocation took (0 without ``greedy``).
        greedy_errors: per layer, ``(density, output error)`` on the grid the greedy allocation
            measured; pass it as ``greedy=`` to calibrate the same layers at another target
            without measuring again.
    """

    layers: dict[str, LayerCalibration]
    model: nn.Module = field(repr=False)
    passes: int = 0
    greedy_forwards: int = 0
    greedy_errors: dict[str, list[tuple[float, float]]] = field(default_factory=dict, repr=False)

    @property
    def thresholds(self) -> dict[str, float]:
        return {name: layer.threshold for name, layer in self.layers.items()}

    @property
    def densities(self) -> dict[str, float]:
        """Density per layer on the calibration data."""
        return {name: layer.density for name, layer in self.layers.items()}

    def modules(self) -> dict[str, MagnitudeThreshold]:
        """The inserted threshold modules, keyed by layer."""
        found = inserted_thresholds(self.model)
        return {name: found[name] for name in self.layers if name in found}

    def measure(self, batches: Iterable[Any], **kwargs: Any) -> dict[str, float]:
        """Density per layer after thresholding, on other data (e.g. held out).

        ``kwargs`` go to :func:`actsparse.profile` (``input_key``, ``max_batches``, ...).
        """
        names = {threshold_module_name(name): name for name in self.layers}
        prof = profile(self.model, batches, layers=list(names), **kwargs)
        return {names[lp.name]: lp.density for lp in prof if lp.name in names}

    def remove(self) -> None:
        """Take every inserted threshold off: the model computes and saves exactly as before."""
        for name in self.layers:
            remove_threshold(self.model, name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passes": self.passes,
            "greedy_forwards": self.greedy_forwards,
            "layers": [vars(layer).copy() for layer in self.layers.values()],
        }


def calibrate_thresholds(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    target_density: float | Mapping[str, float],
    layers: LayerSpec | Sequence[LayerSpec] | None = None,
    on: On = "output",
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
    """
    _check_settings(on, refine_passes, tolerance, greedy_step, greedy_batches)
    if isinstance(target_density, Mapping) and layers is None:
        layers = list(target_density)
    targets = _resolve_targets(model, layers, on)
    wanted = _targets_by_layer(targets, target_density)
    if greedy is not False and isinstance(target_density, Mapping):
        raise ValueError("greedy=True shares out one target_density across the layers; "
                         "pass a number, not a dict")
    if greedy is True and float(target_density) < greedy_step:  # type: ignore[arg-type]
        raise ValueError(f"greedy allocation works on a grid of greedy_step={greedy_step}; "
                         f"target_density={target_density} is below it: pass a smaller step")
    data = _as_list(batches, max_batches)

    prof = profile(model, data, layers=[t.name for t in targets], input_key=input_key)
    _check_profiled(prof, targets)
    dense = {t.name: prof[t.name].density for t in targets}
    result = Calibration({}, model, passes=1)
    if isinstance(greedy, Mapping):
        result.greedy_errors = _check_errors(greedy, targets)
    elif greedy:
        grid = _greedy_grid(prof, targets, greedy_step)
        result.greedy_errors, result.greedy_forwards = _greedy_errors(
            model, data[:greedy_batches], input_key, grid)
    if greedy is not False:
        wanted = greedy_densities(result.greedy_errors, float(target_density),  # type: ignore[arg-type]
                                  dense)
    thresholds = {name: prof[name].quantile(1.0 - d) if d < 1.0 else 0.0
                  for name, d in wanted.items()}

    try:
        for name, value in thresholds.items():
            insert_threshold(model, name, value)
        for i in range(refine_passes + 1):
            windows = _measure(model, data, input_key, thresholds)
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
                insert_threshold(model, name, thresholds[name])
    except BaseException:
        for t in targets:
            remove_threshold(model, t.name)
        raise

    for t in targets:
        result.layers[t.name] = LayerCalibration(
            t.name, thresholds[t.name], wanted[t.name], measured[t.name], dense[t.name])
    _warn_unreachable(result, tolerance)
    return result


# -- arguments ---------------------------------------------------------------------------------
def _check_settings(on: str, refine_passes: int, tolerance: float, greedy_step: float,
                    greedy_batches: int) -> None:
    if on not in ("output", "input"):
        raise ValueError(f"on must be 'output' or 'input', got {on!r}")
    if refine_passes < 0:
        raise ValueError(f"refine_passes must be >= 0, got {refine_passes}")
    if not 0.0 <= tolerance < 1.0:
        raise ValueError(f"tolerance must be in [0, 1), got {tolerance}")
    if not 0.0 < greedy_step < 1.0:
        raise ValueError(f"greedy_step must be in (0, 1), got {greedy_step}")
    if greedy_batches < 1:
        raise ValueError(f"greedy_batches must be >= 1, got {greedy_batches}")


def _check_density(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"target_density{where} must be a number in (0, 1], got {value!r}")
    if not 0.0 < float(value) <= 1.0:
        raise ValueError(f"target_density{where} must be in (0, 1] (the fraction of activations "
                         f"to keep), got {value}")
    return float(value)


def _resolve_targets(
    model: nn.Module, layers: LayerSpec | Sequence[LayerSpec] | None, on: str
) -> list[Target]:
    existing = inserted_thresholds(model)
    if existing:
        raise ValueError(f"the model already has magnitude thresholds on {sorted(existing)}; "
                         "call .remove() on the earlier Calibration first")
    if layers is None and on == "input":
        layers = nn.Linear
    found = select_layers(model, layers)
    modules = dict(model.named_modules())
    targets: dict[str, Target] = {}
    for t in found:
        if on == "input" and not t.on_input:
            t = Target(t.module_name + INPUT_SUFFIX, t.module_name, True)
        module = modules[t.module_name]
        if t.on_input and not isinstance(module, nn.Linear):
            raise ValueError(f"layer {t.name!r} is a {type(module).__name__}: input thresholds "
                             "go on Linear layers only (on='input' or NAME:input); threshold "
                             "its output, or pick the Linear layer that consumes it")
        if isinstance(module, MagnitudeThreshold):
            continue
        targets[t.name] = t
    return list(targets.values())


def _targets_by_layer(targets: list[Target], density: float | Mapping[str, float]
                      ) -> dict[str, float]:
    if not isinstance(density, Mapping):
        value = _check_density(density, "")
        return {t.name: value for t in targets}
    checked = {key: _check_density(v, f"[{key!r}]") for key, v in density.items()}
    out: dict[str, float] = {}
    used: set[str] = set()
    for t in targets:
        for key, value in checked.items():
            if _matches(t, key):
                out[t.name] = value
                used.add(key)
                break
        else:
            raise ValueError(f"no target_density given for layer {t.name!r}; "
                             f"keys are {sorted(checked)}")
    unused = sorted(set(checked) - used)
    if unused:
        raise ValueError(f"target_density keys {unused} match none of the calibrated layers "
                         f"{[t.name for t in targets]}")
    return out


def _matches(t: Target, key: str) -> bool:
    """``key`` names the layer (``NAME:input`` or ``NAME``), or its module (a bare name)."""
    if fnmatch.fnmatchcase(t.name, key):
        return True
    return not key.endswith(INPUT_SUFFIX) and fnmatch.fnmatchcase(t.module_name, key)


def _as_list(batches: Iterable[Any], max_batches: int | None) -> list[Any]:
    if isinstance(batches, Tensor | Mapping):
        raise TypeError("batches must be an iterable of batches (e.g. a list of tensors), not a "
                        f"single {type(batches).__name__}: wrap it in a list")
    if max_batches is not None and max_batches < 1:
        raise ValueError(f"max_batches must be None or >= 1, got {max_batches}")
    data = []
    for i, batch in enumerate(batches):
        if max_batches is not None and i >= max_batches:
            break
        data.append(batch)
    if not data:
        raise ValueError("batches is empty: calibration needs some data")
    return data


def _check_errors(errors: Mapping[str, Sequence[tuple[float, float]]], targets: list[Target]
                  ) -> dict[str, list[tuple[float, float]]]:
    names = [t.name for t in targets]
    if sorted(errors) != sorted(names):
        raise ValueError(f"greedy errors are for layers {sorted(errors)}, but the calibrated "
                         f"layers are {names}: measure them again with greedy=True")
    return {name: [(float(d), float(e)) for d, e in errors[name]] for name in names}


def _check_profiled(prof: Profile, targets: list[Target]) -> None:
    missing = [t.name for t in targets if t.name not in prof.names]
    if missing:
        raise ValueError(f"layers {missing} did not run (or saw no floating-point tensor) in the "
                         "model's forward on these batches, so they cannot be calibrated")


def _warn_unreachable(result: Calibration, tolerance: float) -> None:
    short = [f"{n} ({layer.dense_density:.3f})" for n, layer in result.layers.items()
             if layer.dense_density < layer.target - tolerance]
    if short:
        warnings.warn("these layers are sparser than their target before thresholding and are "
                      f"left as they are: {', '.join(short)}", stacklevel=3)


# -- passes over the data ----------------------------------------------------------------------
@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        with torch.inference_mode():
            yield
    finally:
        for module, mode in modes.items():
            module.training = mode


def _forwards(model: nn.Module, data: list[Any], input_key: int | str
              ) -> Iterator[tuple[Any, Tensor | None]]:
    """Run the model on each batch; yield (output, padding mask or None)."""
    device = model_device(model)
    for i, batch in enumerate(data):
        args, kwargs, mask = unpack_batch(batch, i, input_key, device)
        yield model(*args, **kwargs), mask


def _valid(x: Tensor, mask: Tensor | None) -> Tensor:
    """The positions of ``x`` that are not padding."""
    if mask is not None and x.dim() >= 2 and x.shape[:2] == mask.shape:
        return x[mask.to(x.device).bool()]
    return x


def _measure(model: nn.Module, data: list[Any], input_key: int | str,
             thresholds: dict[str, float]) -> dict[str, ThresholdWindow | None]:
    """One pass with the thresholds in place: a fine |a| window around each threshold."""
    windows: dict[str, ThresholdWindow | None] = {
        name: ThresholdWindow(t) if t > 0 else None for name, t in thresholds.items()}
    targets = [Target(name, threshold_module_name(name), True)
               for name, w in windows.items() if w is not None]
    mask: list[Tensor | None] = [None]

    def observe(name: str, x: Tensor) -> None:
        window = windows[name.split("#")[0]]
        if window is not None and x.is_floating_point():
            window.update(_valid(x, mask[0]))

    with _evaluating(model), hooked(model, targets, observe):
        device = model_device(model)
        for i, batch in enumerate(data):
            args, kwargs, mask[0] = unpack_batch(batch, i, input_key, device)
            model(*args, **kwargs)
    return windows


def _greedy_grid(prof: Profile, targets: list[Target], step: float
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


def _greedy_errors(model: nn.Module, data: list[Any], input_key: int | str,
                   grid: dict[str, list[tuple[float, float]]]
                   ) -> tuple[dict[str, list[tuple[float, float]]], int]:
    """Relative squared error of the model output with one layer thresholded at a time."""
    forwards = 0
    with _evaluating(model):
        reference = [(_output_tensor(out), mask) for out, mask in
                     _forwards(model, data, input_key)]
        errors: dict[str, list[tuple[float, float]]] = {}
        for name, points in grid.items():
            errors[name] = []
            try:
                for density, threshold in points:
                    insert_threshold(model, name, threshold)
                    err = num = 0.0
                    for (ref, mask), (out, _) in zip(
                            reference, _forwards(model, data, input_key), strict=True):
                        diff = _valid(_output_tensor(out).float() - ref.float(), mask)
                        err += float(diff.square().sum())
                        num += float(_valid(ref.float(), mask).square().sum())
                    forwards += len(data)
                    errors[name].append((density, err / max(num, 1e-30)))
            finally:
                remove_threshold(model, name)
    return errors, forwards


def _output_tensor(output: Any) -> Tensor:
    tensor = first_tensor(output)
    if tensor is None:
        raise TypeError(f"greedy allocation compares model outputs, but the model returned "
                        f"{type(output).__name__} with no tensor in it")
    return tensor
