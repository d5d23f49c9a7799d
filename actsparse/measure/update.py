"""Choose how a batch is folded into a layer's state: a fused kernel where built, else torch."""

from __future__ import annotations

from torch import Tensor

from actsparse.measure._fused import fused_update, stats_kernel
from actsparse.measure.config import ProfileConfig
from actsparse.measure.state import update_reference


def update_state(state: dict[str, Tensor], x: Tensor, config: ProfileConfig, edges: Tensor) -> None:
    """Add the activations ``x`` to ``state`` in place (the fused C kernel on CPU, else torch).

    Example:
        >>> import torch
        >>> from actsparse.measure.state import new_state
        >>> cfg = ProfileConfig()
        >>> state = new_state(cfg, 4, ())
        >>> update_state(state, torch.tensor([[0.0, 1.0, 0.0, 2.0]]), cfg, cfg.edges())
        >>> int(state["active"]), int(state["count"])
        (2, 4)
    """
    if not fused_update(state, x, config, edges):
        update_reference(state, x, config, edges)


def native_available() -> bool:
    """Whether the fused C kernel is built and loaded (``False``: every update uses torch).

    Example:
        >>> isinstance(native_available(), bool)
        True
    """
    return stats_kernel() is not None
