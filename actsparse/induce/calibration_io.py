"""Saving calibrated thresholds to a safetensors file and putting them back on a model.

The file holds, per layer, the tensor its threshold module applies (a scalar under the
magnitude rule, one value per input feature under the weight rule), keyed by the layer name
(``NAME`` or ``NAME:input``), and as JSON metadata the selection rule and each layer's
:class:`~actsparse.induce.calibration.LayerCalibration` (score threshold, target, densities).
Loading inserts the thresholds into a model of the same architecture; the model's own weights
are not in the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from actsparse._hooks import INPUT_SUFFIX
from actsparse.induce.calibration import Calibration, LayerCalibration
from actsparse.induce.insert import insert_threshold, inserted_thresholds, remove_threshold
from actsparse.induce.selection import check_rule

METADATA_KEY = "actsparse.calibration"
FORMAT = 1


def save_calibration(calibration: Calibration, path: str | os.PathLike[str]) -> Path:
    """Write the thresholds of ``calibration`` (as its modules hold them now) and its rule.

    Example:
        >>> import tempfile, torch
        >>> from actsparse.induce.calibrate import calibrate_thresholds
        >>> from actsparse.induce.calibration_io import load_calibration, save_calibration
        >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(),
        ...                           torch.nn.Linear(16, 2))
        >>> data = [torch.randn(64, 8) for _ in range(2)]
        >>> cal = calibrate_thresholds(net, data, target_density=0.5, layers="2", on="input",
        ...                            rule="weight")
        >>> path = save_calibration(cal, tempfile.mkdtemp() + "/thresholds.safetensors")
        >>> cal.remove()
        >>> back = load_calibration(net, path)
        >>> back.rule, list(back.layers), tuple(net[2].input_threshold.threshold.shape)
        ('weight', ['2:input'], (16,))
        >>> back.remove()
    """
    from safetensors.torch import save_file

    modules = calibration.modules()
    missing = [name for name in calibration.layers if name not in modules]
    if missing:
        raise ValueError(f"layers {missing} have no threshold on the model (removed?): "
                         "save before calling remove()")
    tensors = {name: modules[name].threshold.detach().float().cpu().contiguous()
               for name in calibration.layers}
    header = {"format": FORMAT, "rule": calibration.rule, "passes": calibration.passes,
              "greedy_forwards": calibration.greedy_forwards,
              "layers": [vars(layer) for layer in calibration.layers.values()]}
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata={METADATA_KEY: json.dumps(header)})
    return out


def load_calibration(model: nn.Module, path: str | os.PathLike[str]) -> Calibration:
    """Insert the thresholds saved in ``path`` into ``model``; returns their Calibration.

    ``model`` must not carry thresholds already (``remove()`` them first) and must have every
    saved layer with as many input features as its saved per-feature threshold.
    """
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        raw = (f.metadata() or {}).get(METADATA_KEY)
        if raw is None:
            raise ValueError(f"{path} is not a calibration file (no {METADATA_KEY!r} metadata)")
        tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (not a dict)
    header = json.loads(raw)
    if header.get("format") != FORMAT:
        raise ValueError(f"{path}: calibration format {header.get('format')!r}, this version "
                         f"reads {FORMAT}")
    on_input = all(layer["name"].endswith(INPUT_SUFFIX) for layer in header["layers"])
    check_rule(header["rule"], "input" if on_input else "output")
    existing = inserted_thresholds(model)
    if existing:
        raise ValueError(f"the model already has thresholds on {sorted(existing)}; remove them "
                         "before loading others")
    layers = {layer["name"]: LayerCalibration(**layer) for layer in header["layers"]}
    placed: list[str] = []
    try:
        for name in layers:
            insert_threshold(model, name, _checked(model, name, tensors[name]))
            placed.append(name)
    except BaseException:
        for name in placed:
            remove_threshold(model, name)
        raise
    return Calibration(layers, model, passes=header["passes"],
                       greedy_forwards=header["greedy_forwards"], rule=header["rule"])


def _checked(model: nn.Module, name: str, threshold: torch.Tensor) -> torch.Tensor:
    if threshold.numel() > 1 and name.endswith(INPUT_SUFFIX):
        module = model.get_submodule(name[: -len(INPUT_SUFFIX)])
        features = getattr(module, "in_features", None)
        if features is not None and features != threshold.shape[-1]:
            raise ValueError(f"layer {name!r} has {features} input features, the saved "
                             f"threshold {threshold.shape[-1]}")
    return threshold
