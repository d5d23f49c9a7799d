"""Numenta's noise test: a fraction of each image's pixels set to a bright value.

The protocol of "How Can We Be So Dense?" (Ahmad & Scheinkman 2019) as their code runs it
(``RandomNoise`` in nupic.research's MNIST experiments and nupic.torch's ``sparse_cnn``
example): for a noise level ``p``, in every test image exactly ``int(P * p)`` pixels (``P`` =
pixels per image, 784 for MNIST), chosen uniformly without replacement, are set to
``white = mean + 2 * std`` of the training pixels. Numenta does this on the ``[0, 1]`` image,
before ``Normalize(mean, std)``, so a noisy pixel reaches their network as ``+2`` after
normalisation; our models take the ``[0, 1]`` image itself, so the same pixels get the same
value here. For MNIST, ``white`` uses Numenta's constants ``0.1307 + 2 * 0.3081``; for other
data sets the mean and std of their training split. The levels are ``0, 0.05, ..., 0.5`` (11)
and the noise score is the number of correct predictions summed over all levels: at most
``11 * 10,000 = 110,000`` on the 10,000 MNIST test images.

Unlike Numenta's (an unseeded ``np.random.permutation`` per image), the noise here is
deterministic: level ``i`` draws from a generator seeded with ``seed * 1000 + i``, so every
model of a study sees exactly the same noisy images (a paired comparison).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from actsparse._hooks import evaluating

NOISE_LEVELS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
NUMENTA_MNIST_MEAN, NUMENTA_MNIST_STD = 0.1307, 0.3081
CHUNK = 1000  # images noised per draw; fixed, so the noise does not depend on a batch size


def white_value(data_name: str, train_images: Tensor | None = None) -> float:
    """The value noisy pixels get: ``mean + 2 * std`` of the training pixels.

    MNIST uses Numenta's constants; other data sets need ``train_images`` (in ``[0, 1]``).

    Example:
        >>> round(white_value("mnist"), 4)
        0.7469
        >>> round(white_value("toy", torch.tensor([0.0, 1.0, 0.0, 1.0])), 4)
        1.6547
    """
    if data_name == "mnist":
        return NUMENTA_MNIST_MEAN + 2 * NUMENTA_MNIST_STD
    if train_images is None:
        raise ValueError(f"white_value({data_name!r}) needs the training images to compute "
                         "mean + 2*std (only mnist has Numenta's constants)")
    x = train_images.double()
    return float(x.mean() + 2 * x.std())


def noise_count(pixels: int, level: float) -> int:
    """Pixels replaced per image at ``level``: ``int(pixels * level)``, as Numenta computes it.

    Example:
        >>> [noise_count(784, p) for p in (0.05, 0.15, 0.5)]
        [39, 117, 392]
    """
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"a noise level is a fraction in [0, 1], got {level}")
    return int(pixels * level)


def add_noise(images: Tensor, level: float, white: float, generator: torch.Generator) -> Tensor:
    """A copy of ``images`` (N, C, H, W) with ``int(C*H*W * level)`` pixels per image set to
    ``white``, chosen uniformly without replacement (with all channels of an image flattened
    together, as Numenta's ``image.view(-1)``).

    Example:
        >>> x = torch.zeros(2, 1, 4, 5)
        >>> y = add_noise(x, 0.25, 0.75, torch.Generator().manual_seed(0))
        >>> (y == 0.75).flatten(1).sum(1).tolist(), bool((x == 0).all())
        ([5, 5], True)
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    flat = images.flatten(1).clone()  # (N, P)
    k = noise_count(flat.shape[1], level)
    if k == 0:
        return flat.view_as(images)
    for i in range(0, flat.shape[0], CHUNK):
        part = flat[i:i + CHUNK]
        keys = torch.rand(part.shape, generator=generator)  # a random permutation per image
        idx = keys.topk(k, dim=1).indices  # (n, k): k distinct pixels per image
        part.scatter_(1, idx, white)
    return flat.view_as(images)


def noise_curve(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    *,
    white: float,
    levels: Sequence[float] = NOISE_LEVELS,
    seed: int = 0,
    batch_size: int = 1000,
) -> list[int]:
    """Correct predictions of ``model`` (in eval mode, restored after) at each noise level.

    The noise score is ``sum(noise_curve(...))``.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        >>> x, y = torch.rand(6, 1, 2, 2), torch.zeros(6, dtype=torch.long)
        >>> curve = noise_curve(net, x, y, white=1.0, levels=(0.0, 0.5))
        >>> len(curve), all(0 <= c <= 6 for c in curve)
        (2, True)
    """
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    curve: list[int] = []
    with evaluating(model), torch.inference_mode():
        for i, level in enumerate(levels):
            gen = torch.Generator().manual_seed(seed * 1000 + i)
            noisy = add_noise(images, level, white, gen)
            correct = 0
            for j in range(0, len(labels), batch_size):
                logits = model(noisy[j:j + batch_size])  # (B, classes)
                correct += int((logits.argmax(1) == labels[j:j + batch_size]).sum())
            curve.append(correct)
    return curve
