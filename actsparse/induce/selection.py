"""Selection rules: which activations a calibrated threshold keeps.

- ``"magnitude"``: score ``|x_i|`` (TEAL); one threshold ``t`` per layer, ``|x_i| <= t`` is zeroed.
- ``"weight"``: score ``|x_i| * ||W[:, i]||_2`` (WINA), where ``W`` is the weight of the Linear
  that consumes ``x``: an input is kept by how much it can move the layer's output, not by its
  size alone. Zeroing ``|x_i| * c_i <= t`` is the same as zeroing ``|x_i| <= t / c_i``, so the
  rule becomes a per-feature threshold of :class:`MagnitudeThreshold` and every path that runs
  magnitude thresholds (hooks, sparse-input modules, save/load) runs it unchanged.

The calibrated ``t`` lives in score space (``LayerCalibration.threshold``); the module holds
``t`` (magnitude) or ``t / c`` (weight).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

Rule = Literal["magnitude", "weight"]
RULES: tuple[str, ...] = ("magnitude", "weight")
SAMPLE_SIZE = 1 << 16  # scores kept per layer for the first threshold estimate
_SMALLEST = 1e-30  # a weight column of norm 0: its input is always zeroed (it adds nothing)


def check_rule(rule: object, on: str) -> None:
    """Raise unless ``rule`` is a known rule that applies to thresholds placed ``on``."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {list(RULES)}, got {rule!r}")
    if rule == "weight" and on != "input":
        raise ValueError("rule='weight' scores a Linear layer's inputs by its weight columns: "
                         "use on='input' (or NAME:input layers)")


def column_norms(linear: nn.Module) -> Tensor:
    """``||W[:, i]||_2`` for each input feature ``i`` of a Linear layer, as float32.

    Example:
        >>> import torch
        >>> from actsparse.induce.selection import column_norms
        >>> lin = torch.nn.Linear(2, 2, bias=False)
        >>> with torch.no_grad():
        ...     lin.weight[:] = torch.tensor([[3.0, 0.0], [4.0, 1.0]])
        >>> column_norms(lin)
        tensor([5., 1.])
    """
    weight = getattr(linear, "weight", None)
    if not isinstance(weight, Tensor) or weight.dim() != 2:
        raise TypeError(f"rule='weight' needs a Linear layer with a 2-D weight, got "
                        f"{type(linear).__name__}")
    return weight.detach().float().norm(dim=0)


def module_threshold(threshold: float, scale: Tensor | None) -> float | Tensor:
    """What the threshold module holds for score threshold ``threshold``: itself, or per feature
    ``threshold / scale`` under the weight rule (``scale`` = the column norms).

    Example:
        >>> import torch
        >>> from actsparse.induce.selection import module_threshold
        >>> module_threshold(0.5, None)
        0.5
        >>> module_threshold(0.5, torch.tensor([1.0, 2.0]))
        tensor([0.5000, 0.2500])
    """
    if scale is None or threshold == 0.0:
        return threshold
    return threshold / scale.clamp_min(_SMALLEST)


def scores(x: Tensor, scale: Tensor | None) -> Tensor:
    """The rule's score of each activation: ``|x|`` or ``|x| * scale`` (last dimension).

    Example:
        >>> import torch
        >>> from actsparse.induce.selection import scores
        >>> scores(torch.tensor([[-1.0, 2.0]]), torch.tensor([3.0, 0.5]))
        tensor([[3., 1.]])
    """
    x = x.detach().abs().float()
    return x if scale is None else x * scale.to(x.device)


class ScoreSample:
    """A fixed-size random sample of one layer's scores, for quantiles (the first estimate).

    Example:
        >>> import torch
        >>> from actsparse.induce.selection import ScoreSample
        >>> s = ScoreSample(per_batch=1000)
        >>> s.update(torch.linspace(0.0, 1.0, 100001))
        >>> round(s.quantile(0.5), 1)
        0.5
    """

    def __init__(self, per_batch: int, seed: int = 0) -> None:
        self.per_batch = max(1, int(per_batch))
        self.generator = torch.Generator().manual_seed(seed)
        self.parts: list[Tensor] = []

    def update(self, values: Tensor) -> None:
        """Add (a sample of) ``values``, any shape."""
        flat = values.detach().reshape(-1).float().cpu()
        if flat.numel() > self.per_batch:
            index = torch.randint(flat.numel(), (self.per_batch,), generator=self.generator)
            flat = flat[index]
        self.parts.append(flat)

    def quantile(self, q: float) -> float:
        """The ``q``-quantile of the sampled values (NaN if none)."""
        if not self.parts:
            return float("nan")
        return float(torch.quantile(torch.cat(self.parts), q))
