"""Profile: the measured sparsity of a model's layers; small, mergeable, saveable."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from torch import Tensor

from actsparse.measure.config import ProfileConfig, config_difference
from actsparse.measure.layer import LayerProfile
from actsparse.measure.state import REDUCTIONS
from actsparse.measure.streaming import LayerStates
from actsparse.measure.validate import state_problem

FORMAT = "actsparse.profile"
SCHEMA_VERSION = 1
FILE_NAME = "profile.safetensors"


class Profile(LayerStates[LayerProfile]):
    """Per-layer activation statistics of a model over some data.

    Built by :func:`actsparse.profile` or :class:`actsparse.Profiler`; combine shards with
    :meth:`merge` (or across ranks with :meth:`all_reduce`), save with :meth:`save` and read
    back with :meth:`load`. Each layer is a :class:`LayerProfile`, a streaming state whose
    tensors are declared with their reductions.

    Example:
        >>> import torch, actsparse
        >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU())
        >>> prof = actsparse.profile(net, [torch.randn(32, 8) for _ in range(4)])
        >>> prof.names
        ['1']
        >>> 0.0 < prof["1"].density < 1.0
        True
        >>> sorted(prof.to_dict()["layers"][0])[:4]
        ['abs_mean', 'abs_quantiles', 'dead_fraction', 'dead_units']
    """

    _noun = "profiles"  # errors say "cannot merge profiles of different layers"
    _verb = "profiled"  # and "ranks profiled different layers"

    def __init__(
        self,
        layers: dict[str, LayerProfile],
        config: ProfileConfig,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.layers = layers
        self.config = config
        self.meta: dict[str, Any] = dict(meta or {})

    def __getitem__(self, name: str) -> LayerProfile:
        try:
            return self.layers[name]
        except KeyError:
            raise KeyError(f"no layer {name!r} in this profile; layers are {self.names}") from None

    def __iter__(self) -> Iterator[LayerProfile]:
        return iter(self.layers.values())

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        samples = max((layer.samples for layer in self), default=0)
        return f"Profile({len(self)} layers, {samples} samples)"

    # -- combining (merge and all_reduce come from LayerStates) ---------------------------------
    def merge(self, other: Profile) -> Profile:
        """The profile of both data shards together (equal to profiling their union).

        Example:
            >>> import torch, actsparse
            >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
            >>> a, b = torch.randn(16, 4), torch.randn(16, 4)
            >>> both = actsparse.profile(net, [a]).merge(actsparse.profile(net, [b]))
            >>> both["1"].samples, both.meta["batches"]
            (32, 2)

        Profiles of other models (``meta["model"]`` or ``meta["model_fingerprint"]``
        differ) are refused; ``meta["batches"]`` and ``meta["seconds"]`` add up.
        """
        if isinstance(other, Profile):
            for key in ("model", "model_fingerprint"):
                mine, theirs = self.meta.get(key), other.meta.get(key)
                if mine is not None and theirs is not None and mine != theirs:
                    raise ValueError(
                        f"cannot merge profiles of different models: {key} is {mine!r} in one "
                        f"and {theirs!r} in the other (profile the shards with the same model)"
                    )
        merged = super().merge(other)
        merged.meta = dict(self.meta)
        for key in ("batches", "seconds"):
            if isinstance(self.meta.get(key), int | float) and isinstance(
                    other.meta.get(key), int | float):
                merged.meta[key] = self.meta[key] + other.meta[key]
        for key in ("model", "model_fingerprint"):
            if key not in merged.meta and key in other.meta:
                merged.meta[key] = other.meta[key]
        return merged

    def all_reduce(self, group: Any = None) -> Profile:
        """Combine this rank's profile with every other rank's, in place (torch.distributed).

        After the call every rank holds the profile of all ranks' data. Layers must agree.
        """
        return super().all_reduce(group)

    def compute(self) -> dict[str, Any]:
        """The numbers of :meth:`to_dict`."""
        return self.to_dict()

    def _check_compatible(self, other: Any) -> None:
        if self.config != other.config:
            raise ValueError(
                f"cannot merge profiles {config_difference(self.config, other.config)}"
            )

    def _with_layers(self, layers: dict[str, LayerProfile]) -> Profile:
        return Profile(layers, self.config, self.meta)

    # -- reading --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """What ``profile.json`` holds: metadata, config and one summary per layer.

        Plain JSON types only: tuples become lists, and a number that is not defined on the
        data seen (NaN, e.g. the union density of groups larger than the data, or +-Inf)
        becomes ``None``, so ``json.dumps(..., allow_nan=False)`` writes strict JSON.
        """
        return _json_ready({
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "meta": self.meta,
            "config": self.config.to_dict(),
            "layers": [layer.summary() for layer in self],
        })

    # -- files ----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the profile to ``path`` (a ``.safetensors`` file, or a folder to hold one).

        The file is written to a temporary name and renamed, so a failure leaves no partial file.
        """
        from safetensors.torch import save_file

        target = _file_path(Path(path))
        target.parent.mkdir(parents=True, exist_ok=True)
        tensors: dict[str, Tensor] = {}
        for i, layer in enumerate(self):
            for key, value in layer.state.items():
                tensors[f"{i}.{key}"] = value.contiguous()
        layers = [
            {"name": lp.name, "input": lp.on_input, "units": lp.units, "spatial": list(lp.spatial)}
            for lp in self
        ]
        metadata = {
            "format": FORMAT,
            "schema_version": str(SCHEMA_VERSION),
            "config": json.dumps(self.config.to_dict()),
            "layers": json.dumps(layers),
            "meta": json.dumps(self.meta, default=str),
        }
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".profile-", suffix=".tmp")
        os.close(fd)
        try:
            save_file(tensors, tmp, metadata=metadata)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Profile:
        """Read a profile written by :meth:`save`; refuse foreign or damaged files clearly.

        Example:
            >>> import tempfile, torch, actsparse
            >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
            >>> prof = actsparse.profile(net, [torch.randn(16, 4)])
            >>> with tempfile.TemporaryDirectory() as d:
            ...     back = actsparse.Profile.load(prof.save(d))
            >>> back["1"].density == prof["1"].density
            True
        """
        from safetensors import SafetensorError, safe_open

        file = _file_path(Path(path))
        if not file.exists():
            raise FileNotFoundError(f"no profile at {file}")
        try:
            with safe_open(str(file), framework="pt") as handle:
                metadata = handle.metadata() or {}
                tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
        except (SafetensorError, OSError, ValueError) as err:
            raise ValueError(f"{file} is not a readable safetensors file ({err})") from err
        if metadata.get("format") != FORMAT:
            raise ValueError(f"{file} is a safetensors file but not an actsparse profile")
        version = int(metadata.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"{file} has profile schema {version}; this actsparse reads up to "
                f"{SCHEMA_VERSION}: upgrade actsparse"
            )
        try:
            config = ProfileConfig.from_dict(json.loads(metadata["config"]))
            entries = json.loads(metadata["layers"])
            layers: dict[str, LayerProfile] = {}
            for i, entry in enumerate(entries):
                state = {key: tensors[f"{i}.{key}"] for key in REDUCTIONS}
                layers[entry["name"]] = LayerProfile(
                    entry["name"], bool(entry["input"]), int(entry["units"]),
                    tuple(entry["spatial"]), config, state,
                )
            meta = json.loads(metadata.get("meta", "{}"))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{file} is an actsparse profile but is damaged: {err!r}") from err
        for name, layer in layers.items():
            problem = state_problem(layer.state, layer.units, config)
            if problem is not None:
                raise ValueError(
                    f"{file} is damaged or was edited: layer {name!r}: {problem} (no measurement "
                    "gives that); profile the model again"
                )
        return cls(layers, config, meta)


def _file_path(path: Path) -> Path:
    return path if path.suffix == ".safetensors" else path / FILE_NAME



def _json_ready(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value
