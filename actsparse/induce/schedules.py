"""Weight schedules for activation penalties: a factor in [0, 1] for each training step.

A schedule is any callable ``step -> factor``; the penalty's weight at step ``s`` is
``weight * schedule(s)``. Steps count optimizer updates from 0 (see
:meth:`actsparse.induce.penalty.ActivationPenalty.step`).

- :class:`Constant`: always 1.
- :class:`WarmUp`: linear from 0 at step 0 to 1 at step ``steps``, then 1 (lets the task loss
  shape the features before sparsity is asked for).
- :class:`Progressive`: ``stages`` equal steps up to 1 over ``steps`` (the weight is raised
  stage by stage during training, as in gradual pruning schedules).

:func:`make_schedule` turns a name (``"constant"``, ``"warmup:STEPS"``,
``"progressive:STEPS[:STAGES]"``), an instance or a callable into a schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

ScheduleLike = str | Callable[[int], float] | None


@dataclass(frozen=True)
class Constant:
    """Factor 1 at every step.

    Example:
        >>> Constant()(0), Constant()(10**6)
        (1.0, 1.0)
    """

    def __call__(self, step: int) -> float:
        return 1.0


@dataclass(frozen=True)
class WarmUp:
    """Linear warm-up: ``min(step / steps, 1)``, so 0 at step 0 and 1 from step ``steps`` on.

    Args:
        steps: number of steps to reach the full weight (>= 1).

    Example:
        >>> w = WarmUp(4)
        >>> [w(s) for s in range(6)]
        [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """

    steps: int

    def __post_init__(self) -> None:
        _check_steps("WarmUp", self.steps)

    def __call__(self, step: int) -> float:
        return min(max(step, 0) / self.steps, 1.0)


@dataclass(frozen=True)
class Progressive:
    """Stepwise increase: ``stages`` equal stages over ``steps``, the last at full weight.

    The factor is ``min(floor(step * stages / steps) + 1, stages) / stages``: ``1/stages`` from
    step 0, then ``2/stages`` from step ``steps/stages``, ... and 1 from step
    ``steps * (stages - 1) / stages`` on.

    Args:
        steps: training steps over which the weight is raised (>= 1).
        stages: number of levels (>= 1); ``stages=1`` is :class:`Constant`.

    Example:
        >>> p = Progressive(8, stages=4)
        >>> [p(s) for s in range(0, 10, 2)]
        [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    steps: int
    stages: int = 4

    def __post_init__(self) -> None:
        _check_steps("Progressive", self.steps)
        if not isinstance(self.stages, int) or self.stages < 1:
            raise ValueError(f"Progressive stages must be an integer >= 1, got {self.stages!r}")

    def __call__(self, step: int) -> float:
        level = math.floor(max(step, 0) * self.stages / self.steps) + 1
        return min(level, self.stages) / self.stages


SCHEDULES = ("constant", "warmup:STEPS", "progressive:STEPS[:STAGES]")


def make_schedule(spec: ScheduleLike) -> Callable[[int], float]:
    """A schedule from ``None``/"constant", "warmup:N", "progressive:N[:K]" or a callable.

    Example:
        >>> make_schedule("warmup:100")
        WarmUp(steps=100)
        >>> make_schedule("progressive:1000:5")(999)
        1.0
        >>> make_schedule("cosine")
        Traceback (most recent call last):
        ...
        ValueError: unknown schedule 'cosine'; use one of constant, warmup:STEPS,
        progressive:STEPS[:STAGES], or pass a callable step -> factor in [0, 1]
    """
    if spec is None:
        return Constant()
    if callable(spec):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"schedule must be a string or a callable, got {type(spec).__name__}")
    name, *args = spec.strip().lower().split(":")
    try:
        if name == "constant" and not args:
            return Constant()
        if name == "warmup" and len(args) == 1:
            return WarmUp(int(args[0]))
        if name == "progressive" and len(args) in (1, 2):
            return Progressive(*(int(a) for a in args))
    except ValueError as err:
        raise ValueError(f"bad schedule {spec!r}: {err}") from None
    raise ValueError(
        f"unknown schedule {spec!r}; use one of {', '.join(SCHEDULES)}, "
        "or pass a callable step -> factor in [0, 1]"
    )


def _check_steps(name: str, steps: int) -> None:
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"{name} steps must be an integer >= 1, got {steps!r}")
