"""Choose how a batch is folded into a layer's state: a fused kernel where built, else torch."""

from __future__ import annotations

from torch import Tensor

from actsparse.measure.config import ProfileConfig
from actsparse.measure.state import update_reference


def update_state(state: dict[str, Tensor], x: Tensor, config: ProfileConfig, edges: Tensor) -> None:
    """Add the activations ``x`` to ``state`` in place."""
    update_reference(state, x, config, edges)
