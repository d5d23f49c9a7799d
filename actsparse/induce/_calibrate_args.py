"""The arguments of :func:`actsparse.induce.calibrate.calibrate_thresholds`, checked and resolved.

Which layers to calibrate (module outputs or Linear inputs), the target density of each, the
calibration batches as a list, and earlier greedy measurements to reuse.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from actsparse._hooks import INPUT_SUFFIX, LayerSpec, Target, select_layers
from actsparse.induce.insert import inserted_thresholds
from actsparse.induce.magnitude import MagnitudeThreshold
from actsparse.measure import Profile


def check_settings(on: str, refine_passes: int, tolerance: float, greedy_step: float,
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


def check_density(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"target_density{where} must be a number in (0, 1], got {value!r}")
    if not 0.0 < float(value) <= 1.0:
        raise ValueError(f"target_density{where} must be in (0, 1] (the fraction of activations "
                         f"to keep), got {value}")
    return float(value)


def resolve_targets(
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


def targets_by_layer(targets: list[Target], density: float | Mapping[str, float]
                      ) -> dict[str, float]:
    if not isinstance(density, Mapping):
        value = check_density(density, "")
        return {t.name: value for t in targets}
    checked = {key: check_density(v, f"[{key!r}]") for key, v in density.items()}
    out: dict[str, float] = {}
    used: set[str] = set()
    for t in targets:
        for key, value in checked.items():
            if matches_layer(t, key):
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


def matches_layer(t: Target, key: str) -> bool:
    """``key`` names the layer (``NAME:input`` or ``NAME``), or its module (a bare name)."""
    if fnmatch.fnmatchcase(t.name, key):
        return True
    return not key.endswith(INPUT_SUFFIX) and fnmatch.fnmatchcase(t.module_name, key)


def batches_as_list(batches: Iterable[Any], max_batches: int | None) -> list[Any]:
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


def check_greedy_errors(errors: Mapping[str, Sequence[tuple[float, float]]], targets: list[Target]
                  ) -> dict[str, list[tuple[float, float]]]:
    names = [t.name for t in targets]
    if sorted(errors) != sorted(names):
        raise ValueError(f"greedy errors are for layers {sorted(errors)}, but the calibrated "
                         f"layers are {names}: measure them again with greedy=True")
    return {name: [(float(d), float(e)) for d, e in errors[name]] for name in names}


def check_profiled(prof: Profile, targets: list[Target]) -> None:
    missing = [t.name for t in targets if t.name not in prof.names]
    if missing:
        raise ValueError(f"layers {missing} did not run (or saw no floating-point tensor) in the "
                         "model's forward on these batches, so they cannot be calibrated")
