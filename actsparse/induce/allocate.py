"""Greedy allocation of density across layers: sparser where thresholding hurts least.

Given, per layer, the model's output error when only that layer is thresholded at each density
of a grid, start every layer dense and repeatedly lower by one grid step the layer whose step
adds the least error per unit of density removed, until the mean density across layers reaches
the target. This is the greedy of TEAL (Liu et al., 2024) with the errors of different layers
taken as additive, so it needs one forward per layer and grid point instead of one per step.
"""

from __future__ import annotations


def greedy_densities(
    errors: dict[str, list[tuple[float, float]]], mean: float, dense: dict[str, float]
) -> dict[str, float]:
    """Per-layer densities whose mean over layers is ``mean``, at the least summed error.

    Args:
        errors: per layer, ``(density, output error)`` pairs in decreasing density, below the
            layer's dense density (where its error is 0).
        mean: the mean density to reach, in (0, 1].
        dense: per layer, its density before thresholding (at most 1): where it starts.

    The last step may stop between two grid points, so the mean is met exactly. Raises
    ``ValueError`` if the grid does not reach low enough.

    Example:
        >>> errors = {"a": [(0.5, 0.1), (0.0001, 0.2)], "b": [(0.5, 0.4), (0.0001, 0.9)]}
        >>> greedy_densities(errors, 0.5, {"a": 1.0, "b": 1.0})  # "a" is cheaper to thin
        {'a': 0.0001, 'b': 0.9999}
    """
    current = {name: min(1.0, dense[name]) for name in errors}
    level = {name: 0.0 for name in errors}  # the error at the current density
    step_index = dict.fromkeys(errors, 0)
    remaining = sum(current.values()) - mean * len(errors)
    while remaining > 1e-12:
        best, best_cost = None, float("inf")
        for name, points in errors.items():
            i = step_index[name]
            if i >= len(points):
                continue
            density, error = points[i]
            cost = (error - level[name]) / max(current[name] - density, 1e-12)
            if cost < best_cost:
                best, best_cost = name, cost
        if best is None:
            raise ValueError(f"the density grid does not reach a mean of {mean}; "
                             "use a smaller step")
        density, error = errors[best][step_index[best]]
        drop = current[best] - density
        if drop > remaining:  # a partial step lands the mean exactly
            current[best] -= remaining
            break
        current[best], level[best] = density, error
        step_index[best] += 1
        remaining -= drop
    return current
