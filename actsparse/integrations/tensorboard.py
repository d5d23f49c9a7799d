"""Write a Profile's per-layer sparsity to TensorBoard.

Needs the ``tensorboard`` package: ``pip install actsparse[tensorboard]``. To log during
training, call :func:`log_profile` every few steps with a :class:`~actsparse.Profiler`'s
``result`` (the Hugging Face and Lightning callbacks already send their ``sparsity/*`` entries
to any TensorBoard logger of the trainer).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from actsparse.measure.profile import Profile

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter


def log_profile(
    writer: SummaryWriter | str | Path,
    profile: Profile,
    step: int = 0,
    *,
    prefix: str = "actsparse",
    histograms: bool = True,
) -> list[str]:
    """Add per-layer scalars (and firing-rate histograms) of ``profile`` at ``step``.

    Tags, for each layer ``L``: ``PREFIX/L/density``, ``PREFIX/L/zero_fraction``,
    ``PREFIX/L/near_zero_T`` for each near-zero threshold ``T`` of the profile's config
    (``0.001``, ``0.01``, ``0.1`` by default), ``PREFIX/L/dead_fraction`` (fraction of units
    never active) and, with ``histograms``, ``PREFIX/L/firing_rate`` (a histogram over units).

    Args:
        writer: a ``torch.utils.tensorboard.SummaryWriter``, or a log folder (a writer is opened
            there and closed after).
        profile: what :func:`actsparse.profile` or a :class:`~actsparse.Profiler` returned.
        step: the global step to file the values under.
        prefix: first part of every tag.
        histograms: also write per-unit firing-rate histograms.

    Returns:
        The scalar tags written.

    Example:
        >>> import tempfile, torch, actsparse
        >>> from actsparse.integrations.tensorboard import log_profile
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        >>> prof = actsparse.profile(net, [torch.randn(16, 4)])
        >>> log_profile(tempfile.mkdtemp(), prof, step=3)[:2]
        ['actsparse/1/density', 'actsparse/1/zero_fraction']
    """
    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be an actsparse Profile, got {type(profile).__name__}")
    own = isinstance(writer, str | Path)
    out: Any = _summary_writer()(log_dir=str(writer)) if own else writer
    tags: list[str] = []
    try:
        for layer in profile:
            base = f"{prefix}/{layer.name}"
            values = {"density": layer.density, "zero_fraction": layer.zero_fraction}
            for t in layer.config.near_zero:
                values[f"near_zero_{t:g}"] = layer.near_zero(t)
            values["dead_fraction"] = len(layer.dead_units()) / max(layer.units, 1)
            for key, value in values.items():
                out.add_scalar(f"{base}/{key}", value, step)
                tags.append(f"{base}/{key}")
            if histograms and layer.samples > 0:
                out.add_histogram(f"{base}/firing_rate", layer.firing_rate().float(), step)
        out.flush()
    finally:
        if own:
            out.close()
    return tags


def _summary_writer() -> type[SummaryWriter]:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise ImportError(
            "writing TensorBoard logs needs the tensorboard package: "
            "pip install actsparse[tensorboard]"
        ) from err
    return SummaryWriter
