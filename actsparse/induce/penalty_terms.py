"""Differentiable sparsity penalties of one activation tensor (the functional core).

Each function maps an activation ``a`` to a scalar that is smaller when ``a`` is sparser, and
keeps the autograd graph. All three are normalised so that one weight means the same for a
layer of 64 or of 4096 units.

How a tensor splits into samples and units (as the profiler does):
``(N, U)`` -> N samples of U units; ``(B, T, U)`` -> B*T tokens of U units;
``(N, C, *spatial)`` -> N samples, C channel units, each at ``prod(spatial)`` positions.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

from actsparse.measure.state import as_samples_units_positions

EPS = 1e-12
KL_CLAMP = 1e-6


def l1_penalty(a: Tensor) -> Tensor:
    """Mean absolute activation: ``mean |a|`` over all elements.

    The per-element mean (not the per-sample sum) keeps the scale independent of layer size.

    Example:
        >>> l1_penalty(torch.tensor([[1.0, -2.0, 0.0, 0.0]]))
        tensor(0.7500)
    """
    return a.float().abs().mean()


def hoyer_square_penalty(a: Tensor) -> Tensor:
    """Normalised Hoyer-square: per sample ``(sum |a|)^2 / (n * sum a^2)``, mean over samples.

    ``(sum |a|)^2 / sum a^2`` is the Hoyer-square regulariser of Kurtz et al. (2020), "Inducing
    and Exploiting Activation Sparsity for Fast Neural Network Inference", ICML. It is scale
    invariant and lies in [1, n] for a sample of n elements; dividing by n puts it in
    [1/n, 1] and makes it an *effective density*: k equal nonzeros out of n give exactly k/n.
    Multiply the weight by n to get Kurtz et al.'s unnormalised form. An all-zero sample
    counts 0.

    Example:
        >>> hoyer_square_penalty(torch.tensor([[3.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]]))
        tensor(0.6250)
    """
    x = as_samples_units_positions(a.float())[0].flatten(1)  # (N, n)
    l1 = x.abs().sum(dim=1)
    l2sq = x.square().sum(dim=1)
    return (l1.square() / (l2sq * x.shape[1] + EPS)).mean()


def firing_probability(a: Tensor) -> Tensor:
    """Soft firing indicator ``tanh(|a|)`` in [0, 1): 0 at a = 0, near 1 once ``|a| >~ 2``.

    Example:
        >>> firing_probability(torch.tensor([0.0, -0.5, 3.0]))
        tensor([0.0000, 0.4621, 0.9951])
    """
    return torch.tanh(a.abs())


def kl_penalty(a: Tensor, target: float, sync: bool = True) -> Tensor:
    """Mean over units of ``KL(rho || rho_hat_j)`` between Bernoulli firing rates.

    ``rho_hat_j`` is unit j's mean :func:`firing_probability` ``tanh(|a|)`` over the batch
    (samples, tokens and positions), clamped to ``[1e-6, 1 - 1e-6]``, and
    ``KL(rho || r) = rho log(rho / r) + (1 - rho) log((1 - rho) / (1 - r))``
    (Ng, "Sparse autoencoder", CS294A lecture notes, 2011). Ng sums over units; the mean keeps
    the weight independent of width (multiply the weight by the unit count to get the sum).
    ``tanh(|a|)`` is used because ReLU-family activations are unbounded: for active values above
    about 2 it is the firing rate, for small ones it is below it, so the penalty also shrinks
    magnitudes.

    Under ``torch.distributed`` with ``sync=True`` and gradients enabled, ``rho_hat`` is the
    mean over the batches of all ranks (a differentiable all-reduce), so DDP training equals
    training on the concatenated batch; every rank must then run the layer equally often.

    Example:
        >>> a = torch.tensor([[1.0, 0.0], [0.0, 0.0]])  # rho_hat = tanh(1) / 2, 1e-6 (clamped)
        >>> kl_penalty(a, target=0.1)  # (KL(0.1 || 0.381) + KL(0.1 || 1e-6)) / 2
        tensor(0.6297)
    """
    x = as_samples_units_positions(a.float())[0]  # (N, U, S)
    fire = firing_probability(x).sum(dim=(0, 2))  # (U,)
    count = torch.tensor(float(x.shape[0] * x.shape[2]), device=x.device)
    if sync and torch.is_grad_enabled() and _world_size() > 1:
        from torch.distributed.nn.functional import all_reduce

        fire = all_reduce(fire)
        count = count.clone()
        dist.all_reduce(count)
    rho_hat = (fire / count).clamp(KL_CLAMP, 1 - KL_CLAMP)
    rho = torch.as_tensor(target, dtype=rho_hat.dtype, device=rho_hat.device)
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
    return kl.mean()


def _world_size() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1
