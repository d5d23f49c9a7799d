"""What a training run reports: accuracies, per-layer density on the test set, metrics.json."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from actsparse._hooks import evaluating
from actsparse._jsonio import write_json
from actsparse.measure import Profile, Profiler

METRICS_FILE = "metrics.json"


def evaluate(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    *,
    layers: Sequence[str] | None = None,
    batch_size: int = 1000,
) -> tuple[float, Profile | None]:
    """Accuracy of ``model`` (in eval mode) and, when ``layers`` are named, their Profile.

    The model's train/eval mode is restored afterwards.

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
        >>> x, y = torch.randn(20, 4), torch.zeros(20, dtype=torch.long)
        >>> acc, prof = evaluate(net, x, y, layers=["1"])
        >>> 0.0 <= acc <= 1.0, prof["1"].samples
        (True, 20)
    """
    with evaluating(model), torch.inference_mode():
        if layers:
            with Profiler(model, list(layers)) as prof:
                correct = _correct(model, images, labels, batch_size)
            result: Profile | None = prof.result
        else:
            correct = _correct(model, images, labels, batch_size)
            result = None
    return correct / max(len(labels), 1), result


def _correct(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int) -> int:
    correct = 0
    for i in range(0, len(labels), batch_size):
        logits = model(images[i:i + batch_size])  # (B, classes)
        correct += int((logits.argmax(1) == labels[i:i + batch_size]).sum())
    return correct


def densities(prof: Profile) -> dict[str, float]:
    """``{layer: density}`` of a profile, in layer order.

    Example:
        >>> import torch, actsparse
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        >>> list(densities(actsparse.profile(net, [torch.randn(16, 4)])))
        ['1']
    """
    return {layer.name: layer.density for layer in prof}


def write_metrics(out: str | Path, metrics: dict[str, Any]) -> Path:
    """Write ``metrics`` to ``out/metrics.json`` (strict JSON, atomically); return the path.

    Example:
        >>> import json, tempfile
        >>> path = write_metrics(tempfile.mkdtemp(), {"test_accuracy": 0.99})
        >>> json.loads(path.read_text())
        {'test_accuracy': 0.99}
    """
    return write_json(Path(out) / METRICS_FILE, metrics)
