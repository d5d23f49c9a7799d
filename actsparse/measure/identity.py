"""Which model a profile was measured on: a short fingerprint of its parameters.

A profile records ``meta["model"]`` (the class name) and ``meta["model_fingerprint"]``: a hash
of every parameter's name, shape, dtype and a sample of its values (and of the ``graph_digest``
of a submodule that runs a graph outside torch, such as an ONNX model) (at most
:data:`SAMPLED` evenly spaced values each, so it stays cheap on large models). Two models with
the same architecture but other weights get other fingerprints; pruning, merging and loading
use it to refuse a profile of another model.
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn

SAMPLED = 256  # values read per parameter


def model_fingerprint(model: nn.Module) -> str:
    """16 hex digits that change when the parameters' names, shapes or values change.

    Example:
        >>> a, b = nn.Linear(4, 2), nn.Linear(4, 2)
        >>> fa, fb = model_fingerprint(a), model_fingerprint(b)
        >>> fa == model_fingerprint(a), fa == fb
        (True, False)
    """
    digest = hashlib.sha256()
    with torch.no_grad():
        for name, param in model.named_parameters():
            digest.update(f"{name}:{tuple(param.shape)}:{param.dtype};".encode())
            if param.is_meta or param.numel() == 0:
                continue
            flat = param.detach().reshape(-1)
            step = max(flat.numel() // SAMPLED, 1)
            sample = flat[::step][:SAMPLED].double().cpu()
            digest.update(sample.numpy().tobytes())
    for name, module in model.named_modules():  # a graph run outside torch holds its weights
        graph_digest = getattr(module, "graph_digest", None)
        if isinstance(graph_digest, str):
            digest.update(f"{name}:{graph_digest};".encode())
    return digest.hexdigest()[:16]


def check_same_model(model: nn.Module, meta: dict[str, object], what: str) -> None:
    """Raise ValueError when ``meta`` (a profile's) records another model than ``model``.

    Example:
        >>> net = nn.Linear(4, 2)
        >>> check_same_model(net, {"model_fingerprint": model_fingerprint(net)}, "prune")
        >>> check_same_model(nn.Linear(4, 2), {"model_fingerprint": "0" * 16}, "prune")
        Traceback (most recent call last):
        ...
        ValueError: cannot prune with a profile of another model: ...
    """
    recorded = meta.get("model_fingerprint")
    if recorded is None:
        return  # a profile from before fingerprints, or built by hand: nothing to compare
    mine = model_fingerprint(model)
    if recorded != mine:
        raise ValueError(
            f"cannot {what} with a profile of another model: the profile was measured on a "
            f"{meta.get('model', 'model')} with fingerprint {recorded}, this "
            f"{type(model).__name__} has {mine} (other weights or layers). Profile this model "
            "(after any training or loading of weights) and use that profile"
        )
