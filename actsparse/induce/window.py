"""A fine |a| histogram around one threshold: where to move it to hit a density exactly.

The profile's |a| histogram has 7.5%-wide bins, too coarse to place a threshold within +-0.02
of a target density when a few percent of the values share one bin. This window keeps 512
bins of 0.27% between ``t / 2`` and ``2 t``, plus exact counts below and above: fixed size,
so memory does not grow with the data, and one pass tells the density at ``t`` exactly and the
threshold for any target density whose quantile lies inside the window.
"""

from __future__ import annotations

import torch
from torch import Tensor

BINS_PER_OCTAVE = 256  # 0.27% relative bin width
OCTAVES = 1  # the window spans t / 2**OCTAVES to t * 2**OCTAVES


class ThresholdWindow:
    """Streaming counts of ``|x|`` on a fine log grid around the threshold ``centre > 0``.

    Example:
        >>> import torch
        >>> from actsparse.induce.window import ThresholdWindow
        >>> w = ThresholdWindow(1.0)
        >>> w.update(torch.linspace(-2.0, 2.0, 4001))
        >>> round(w.density, 3)  # fraction with |x| > 1
        0.5
        >>> round(w.threshold_for(0.25), 3)  # |x| > 1.5 leaves a quarter
        1.5
    """

    def __init__(self, centre: float) -> None:
        if not centre > 0:
            raise ValueError(f"centre must be > 0, got {centre}")
        self.centre = float(torch.tensor(centre, dtype=torch.float32))
        steps = torch.arange(-OCTAVES * BINS_PER_OCTAVE, OCTAVES * BINS_PER_OCTAVE + 1)
        self.edges = (self.centre * 2.0 ** (steps.double() / BINS_PER_OCTAVE)).float()
        self.counts = torch.zeros(len(self.edges) + 1, dtype=torch.int64)  # below, bins, above
        self.total = 0
        self.above = 0  # exact count of |x| > centre

    def update(self, x: Tensor) -> None:
        """Add the values of ``x`` (any shape)."""
        absx = x.detach().reshape(-1).abs().float()
        index = torch.bucketize(absx, self.edges.to(absx.device), right=True)
        self.counts += torch.bincount(index, minlength=len(self.edges) + 1).cpu()
        self.total += absx.numel()
        self.above += int((absx > self.centre).sum())

    @property
    def density(self) -> float:
        """Fraction of the values seen with ``|x| > centre``."""
        return self.above / self.total if self.total else float("nan")

    def threshold_for(self, density: float) -> float:
        """The threshold that leaves ``density`` of the values seen, clamped to the window.

        A result at the window's edge means the answer lies beyond it: measure again there.
        """
        if self.total == 0:
            return self.centre
        rank = (1.0 - density) * self.total  # values at or below the threshold
        below = self.counts.cumsum(0).double().tolist()  # below[i]: values < edges[i]
        edges = self.edges.double().tolist()
        if rank <= below[0]:
            return edges[0]
        for i in range(1, len(edges)):
            if below[i] >= rank:
                inside = below[i] - below[i - 1]
                frac = (rank - below[i - 1]) / inside if inside > 0 else 1.0
                return float(edges[i - 1] * (edges[i] / edges[i - 1]) ** frac)
        return edges[-1]
