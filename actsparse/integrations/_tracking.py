"""What the trainer callbacks share: one penalty, one profiler, and the numbers they log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from torch import Tensor, nn

from actsparse._hooks import LayerSpec
from actsparse.induce.penalty import ActivationPenalty
from actsparse.induce.schedules import ScheduleLike
from actsparse.measure.profiler import Profiler


@dataclass
class SparsityTracker:
    """Builds an :class:`ActivationPenalty` (and a :class:`Profiler` on the same layers) on a
    model, and turns what they saw since the last call into flat log entries.

    Example:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        >>> tracker = SparsityTracker("l1", 0.1)
        >>> pen = tracker.attach(net)
        >>> tracker.start_measuring()
        >>> _ = net(torch.randn(4, 4))
        >>> tracker.record(pen.loss())
        >>> tracker.stop_measuring()
        >>> sorted(tracker.pop_logs())
        ['sparsity/1/density', 'sparsity/mean_density', 'sparsity/penalty', 'sparsity/weight']
        >>> tracker.detach(); len(net[1]._forward_hooks)
        0
    """

    kind: str = "l1"
    weight: float = 0.0
    layers: LayerSpec | Sequence[LayerSpec] | None = None
    target: float | None = None
    schedule: ScheduleLike = None
    log_density: bool = True
    sync_stats: bool = True
    prefix: str = "sparsity"
    penalty: ActivationPenalty | None = field(default=None, init=False)
    profiler: Profiler | None = field(default=None, init=False)
    _penalty_sum: float = field(default=0.0, init=False)
    _penalty_count: int = field(default=0, init=False)
    _measuring: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        # Check the arguments now (bad kind, weight, target, schedule), not when training starts.
        ActivationPenalty(
            nn.Sequential(nn.ReLU()), self.kind, weight=self.weight, target=self.target,
            schedule=self.schedule,
        ).remove()

    def attach(self, model: nn.Module) -> ActivationPenalty:
        """Hook ``model``; returns the penalty. Attaching again first detaches."""
        self.detach()
        self.penalty = ActivationPenalty(
            model, self.kind, weight=self.weight, layers=self.layers, target=self.target,
            schedule=self.schedule, sync_stats=self.sync_stats,
        )
        if self.log_density:
            self.profiler = Profiler(model, self.penalty.layer_names)
        return self.penalty

    def detach(self) -> None:
        """Remove every hook (idempotent)."""
        self.stop_measuring()
        if self.penalty is not None:
            self.penalty.remove()
        self.penalty = None
        self.profiler = None

    def start_measuring(self) -> None:
        """Profile the forwards from now on (training forwards only, not evaluation)."""
        if self.profiler is not None and not self._measuring:
            self.profiler.__enter__()
            self._measuring = True

    def stop_measuring(self) -> None:
        if self.profiler is not None and self._measuring:
            self.profiler.__exit__(None, None, None)
        self._measuring = False

    def record(self, value: Tensor | None) -> None:
        """Note one weighted penalty value (as added to a loss) for the next log."""
        if value is not None:
            self._penalty_sum += float(value.detach())
            self._penalty_count += 1

    def pop_logs(self) -> dict[str, float]:
        """Per-layer density and the mean penalty since the last call; then forget them."""
        logs: dict[str, float] = {}
        if self.penalty is not None:
            logs[f"{self.prefix}/weight"] = self.penalty.current_weight
        if self._penalty_count:
            logs[f"{self.prefix}/penalty"] = self._penalty_sum / self._penalty_count
        self._penalty_sum, self._penalty_count = 0.0, 0
        if self.profiler is not None:
            prof = self.profiler.result
            self.profiler.reset()
            densities = {name: prof[name].density for name in prof.names}
            for name, density in densities.items():
                logs[f"{self.prefix}/{name}/density"] = density
            if densities:
                logs[f"{self.prefix}/mean_density"] = sum(densities.values()) / len(densities)
        return logs

