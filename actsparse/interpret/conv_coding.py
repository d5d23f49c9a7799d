"""Sparse coding of image patches in convolution form: a frozen, sparse front end for a CNN.

A ``Conv2d`` correlates each input patch ``x_p`` with its filters. :class:`SparseCodingConv2d`
instead *codes* each patch over a dictionary ``D`` of unit-norm atoms (one per output channel):
the code ``z_p`` minimises

    0.5 * ||x_p - z_p D||^2 + alpha * ||z_p||_1        (z_p >= 0 when ``positive``)

as :func:`actsparse.interpret.sparse_coding.sparse_encode` does for a matrix of flattened
patches, but without unfolding them: FISTA (Beck & Teboulle 2009) runs on the whole code map,

    c = conv2d(x, D)                                   correlations D x_p of every patch
    z_k = shrink(y_k - (conv1x1(y_k, G) - c) / L, alpha / L)      G = D D^T,  L = max eig(G)
    y_{k+1} = z_k + (t_k - 1) / t_{k+1} * (z_k - z_{k-1}),   t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2

from ``z_0 = y_1 = 0``, for ``n_iter`` iterations (fewer when ``tol > 0`` and every patch's
code moved by at most ``tol`` times its norm in one iteration). The momentum is plain FISTA's,
without ``sparse_encode``'s adaptive restart: the two agree at the optimum, and with
``momentum=False`` (ISTA) iteration for iteration. The 1x1 convolution is a matrix product
over channels; it runs as one ``addmm`` on the codes gathered as rows, ``z = shrink(y (I - G/L)
+ c/L)``, and only at the positions where some correlation exceeds ``alpha`` (``|c|`` when not
``positive``): elsewhere the code is exactly 0 at every iteration (0 is then optimal and FISTA
never leaves it), so blank background costs nothing.

:func:`fit_patch_dictionary` learns ``D`` from random patches of training images with
:class:`actsparse.interpret.dictionary.DictionaryLearning`, on centred patches, giving
zero-mean atoms, for which coding a raw patch is exactly coding its centred version (so the
layer needs no preprocessing at encode time; see that function).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return pair[0], pair[1]


def unit_atoms(dictionary: Tensor) -> Tensor:
    """``dictionary`` (atoms along dim 0, any shape after) with every atom scaled to unit norm.

    Raises ``ValueError`` for an atom of zero (or non-finite) norm.

    Example:
        >>> unit_atoms(torch.tensor([[3.0, 4.0], [0.0, 2.0]])).tolist()
        [[0.6000000238418579, 0.800000011920929], [0.0, 1.0]]
    """
    norms = dictionary.flatten(1).norm(dim=1)  # (atoms,)
    bad = ~(torch.isfinite(norms) & (norms > 0))
    if bool(bad.any()):
        raise ValueError(f"dictionary atoms {bad.nonzero().flatten().tolist()} have zero or "
                         "non-finite norm; every atom needs a finite, non-zero norm")
    return dictionary / norms.view(-1, *([1] * (dictionary.dim() - 1)))


class SparseCodingConv2d(nn.Module):
    r"""Patch-wise sparse codes over a fixed dictionary, as a drop-in for a ``Conv2d``.

    Every output position holds the code of the input patch under it (the patches a
    ``Conv2d(in_channels, out_channels, kernel_size, stride, padding)`` would see), computed by
    ``n_iter`` FISTA iterations in convolution form (see the module docstring). The module is
    frozen: it has no parameters; the dictionary is a buffer, so it is saved with the
    ``state_dict``. Gradients flow to the input only if it requires them. After a forward,
    ``n_iter_`` is the number of iterations it ran (fewer than ``n_iter`` when ``tol`` stopped
    it; 0 when every code was 0 from the start).

    Args:
        in_channels, out_channels, kernel_size: as for ``nn.Conv2d`` (``out_channels`` atoms).
        alpha: the L1 weight (>= 0), in the units of ``0.5 * ||x_p - z_p D||^2``.
        n_iter: FISTA iterations (>= 1).
        tol: stop before ``n_iter`` once every patch's code moved by at most ``tol`` times its
            norm in one iteration (``sparse_encode``'s rule, but decided for each block of up
            to ``block_patches`` patches at once); 0 runs all ``n_iter``, and each patch's code
            is then independent of the rest of the batch.
        positive: non-negative codes (a ReLU-like front end), else signed codes.
        momentum: FISTA; ``False`` gives ISTA (no extrapolation).
        stride, padding: as for ``nn.Conv2d`` (zero padding).
        dictionary: initial atoms ``(out_channels, in_channels, kh, kw)``, scaled to unit norm;
            by default random normal atoms (from torch's global generator), scaled to unit norm.

    Shape:
        - Input: ``(B, in_channels, H, W)``
        - Output: ``(B, out_channels, H', W')`` as for ``nn.Conv2d``, the codes.

    Examples:
        >>> _ = torch.manual_seed(0)
        >>> sc = SparseCodingConv2d(1, 8, 3, alpha=0.5, padding=1, n_iter=30)
        >>> sc.extra_repr()
        '1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), alpha=0.5, n_iter=30, tol=0, ...'
        >>> z = sc(torch.rand(2, 1, 6, 6))
        >>> tuple(z.shape), bool((z >= 0).all()), len(list(sc.parameters()))
        ((2, 8, 6, 6), True, 0)
    """

    dictionary: Tensor
    block_images = 128  # images coded together; a larger batch is split (tol=0: same codes)
    block_patches = 8192  # live patches iterated together: (8192, C) blocks stay in cache

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        *,
        alpha: float,
        n_iter: int = 20,
        tol: float = 0.0,
        positive: bool = True,
        momentum: bool = True,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dictionary: Tensor | None = None,
    ) -> None:
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"in_channels and out_channels must be >= 1, got {in_channels} and "
                             f"{out_channels}")
        if not (math.isfinite(alpha) and alpha >= 0):
            raise ValueError(f"alpha must be a finite number >= 0, got {alpha}")
        if n_iter < 1:
            raise ValueError(f"n_iter must be >= 1, got {n_iter}")
        if not (math.isfinite(tol) and tol >= 0):
            raise ValueError(f"tol must be a finite number >= 0, got {tol}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.padding = _pair(stride, "stride"), _pair(padding, "padding")
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(f"kernel_size and stride must be >= 1 and padding >= 0, got "
                             f"{self.kernel_size}, {self.stride}, {self.padding}")
        self.alpha, self.n_iter, self.tol = float(alpha), n_iter, float(tol)
        self.positive, self.momentum = positive, momentum
        self.n_iter_ = 0  # iterations run by the last forward (0: no patch needed any)
        shape = (out_channels, in_channels, *self.kernel_size)
        if dictionary is None:
            dictionary = torch.randn(shape)
        self.register_buffer("dictionary", torch.empty(shape))
        self.set_dictionary(dictionary)

    def set_dictionary(self, dictionary: Tensor) -> None:
        """Replace the atoms (``(out_channels, in_channels, kh, kw)``, or flattened to
        ``(out_channels, in_channels * kh * kw)``); each is scaled to unit norm."""
        shape = tuple(self.dictionary.shape)
        if dictionary.shape not in (shape, (shape[0], math.prod(shape[1:]))):
            raise ValueError(f"dictionary of shape {tuple(dictionary.shape)} does not fit "
                             f"{shape} (out_channels, in_channels, kh, kw)")
        with torch.no_grad():
            atoms = unit_atoms(dictionary.detach().to(self.dictionary))
            self.dictionary.copy_(atoms.reshape(shape))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[0] <= self.block_images:
            return self._code(x)
        parts, iters = [], 0  # a large batch in blocks that stay in cache
        for part in x.split(self.block_images):
            parts.append(self._code(part))
            iters = max(iters, self.n_iter_)
        self.n_iter_ = iters
        return torch.cat(parts)

    def _code(self, x: Tensor) -> Tensor:
        """The codes of one block of images ``(B, in_channels, H, W)``."""
        atoms = self.dictionary.flatten(1)  # (C, F)
        gram = atoms @ atoms.T  # (C, C) = G, the 1x1 convolution
        step = 1.0 / float(torch.linalg.eigvalsh(gram.double())[-1])  # 1 / L
        corr = F.conv2d(x, self.dictionary, stride=self.stride, padding=self.padding)
        b, c, h, w = corr.shape  # (B, C, H', W'): the correlations D x_p of every patch
        corr = corr.reshape(b, c, h * w)  # (B, C, P)
        # A patch whose every correlation is <= alpha (|.| when signed) has the code 0, and
        # FISTA from 0 never leaves it: only the other ("live") patches are iterated.
        score = corr.amax(1) if self.positive else corr.abs().amax(1)  # (B, P)
        img, pos = (score > self.alpha).nonzero().unbind(1)  # (n,) each: the live patches
        codes = torch.zeros_like(corr)  # (B, C, P)
        if len(img):
            rows = corr[img, :, pos]  # (n, C), one row per live patch
            if self.positive:  # bias c/L - alpha/L: the proximal step is then a ReLU
                bias, threshold = (rows - self.alpha) * step, 0.0
            else:
                bias, threshold = rows * step, self.alpha * step
            shrink = torch.eye(c, dtype=gram.dtype, device=gram.device) - gram * step  # I - G/L
            blocks = [self._fista(part, shrink, threshold)
                      for part in bias.split(self.block_patches)]
            codes[img, :, pos] = torch.cat([z for z, _ in blocks])
            self.n_iter_ = max(it for _, it in blocks)
        else:
            self.n_iter_ = 0
        return codes.view(b, c, h, w)  # (B, C, H', W')

    def _fista(self, bias: Tensor, shrink: Tensor, threshold: float) -> tuple[Tensor, int]:
        """FISTA from 0 on rows: ``z = prox(y @ shrink + bias)`` (``shrink`` is symmetric).

        Returns the codes and the number of iterations run."""
        z = self._prox(bias.clone(), threshold)  # iteration 1 (y_1 = 0)
        y, t = z, 1.0  # the first momentum weight (t_1 - 1) / t_2 is 0
        for it in range(2, self.n_iter + 1):
            z_next = self._prox(torch.addmm(bias, y, shrink), threshold)  # (n, C)
            if self.tol > 0 and self._converged(z_next, z):
                return z_next, it
            if self.momentum:
                t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
                y = torch.lerp(z, z_next, 1.0 + (t - 1.0) / t_next)  # z' + beta (z' - z)
                t = t_next
            else:
                y = z_next
            z = z_next
        return z, self.n_iter

    def _converged(self, z_next: Tensor, z: Tensor) -> bool:
        """Every patch moved by at most ``tol`` times its code's norm (the stop of
        ``sparse_encode``, decided here for the whole batch at once)."""
        moved = torch.linalg.vector_norm(z_next - z, dim=1)
        return bool((moved <= self.tol * torch.linalg.vector_norm(z_next, dim=1)).all())

    def _prox(self, v: Tensor, threshold: float) -> Tensor:
        """The proximal step of ``alpha * ||z||_1`` (ReLU form when ``positive``), in place."""
        if self.positive:  # the bias already holds -alpha/L
            return v.relu_()
        return v - v.clamp(-threshold, threshold)  # soft threshold

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, alpha={self.alpha:g}, "
                f"n_iter={self.n_iter}, tol={self.tol:g}, positive={self.positive}, "
                f"momentum={self.momentum}")


def sample_patches(
    images: Tensor,
    n_patches: int,
    kernel_size: int,
    *,
    padding: int = 0,
    centre: bool = False,
    seed: int = 0,
) -> Tensor:
    """Up to ``n_patches`` random non-blank patches of ``images``, flattened.

    ``images`` is ``(N, C, H, W)``; a patch is a ``C x k x k`` window of the zero-padded image
    at a uniformly random image and position (with replacement). With ``centre`` each channel
    of a patch has its mean subtracted; patches that are then all zero (constant ones, such as
    blank background) are skipped, as are all-zero patches without ``centre``. The draw
    depends only on ``seed`` (a private generator; torch's global one is not touched). Fewer
    than ``n_patches`` come back only when the images are almost entirely blank.

    Returns ``(n, C * k * k)``.

    Example:
        >>> imgs = torch.zeros(4, 1, 8, 8)
        >>> imgs[:, :, 2:6, 2:6] = 1.0
        >>> p = sample_patches(imgs, 100, 3, centre=True, seed=1)
        >>> tuple(p.shape), bool(p.sum(1).abs().max() < 1e-5), bool((p.abs().sum(1) > 0).all())
        ((100, 9), True, True)
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    if n_patches < 1 or kernel_size < 1 or padding < 0:
        raise ValueError(f"n_patches and kernel_size must be >= 1 and padding >= 0, got "
                         f"{n_patches}, {kernel_size}, {padding}")
    x = F.pad(images.detach(), (padding,) * 4) if padding else images.detach()
    n, c, h, w = x.shape
    k = kernel_size
    if h < k or w < k:
        raise ValueError(f"kernel_size {k} is larger than the (padded) images, {h}x{w}")
    gen = torch.Generator().manual_seed(seed)
    chan = torch.arange(c).view(1, c, 1, 1)
    offset = torch.arange(k)
    found: list[Tensor] = []
    have = 0
    for _ in range(20):  # rounds of draws; one or two suffice unless the images are near blank
        img = torch.randint(n, (n_patches, 1, 1, 1), generator=gen)
        top = torch.randint(h - k + 1, (n_patches,), generator=gen)
        left = torch.randint(w - k + 1, (n_patches,), generator=gen)
        rows = (top.view(-1, 1) + offset).view(-1, 1, k, 1)  # (n, 1, k, 1)
        cols = (left.view(-1, 1) + offset).view(-1, 1, 1, k)  # (n, 1, 1, k)
        patches = x[img, chan, rows, cols]  # (n, C, k, k)
        if centre:
            patches = patches - patches.mean((2, 3), keepdim=True)
        patches = patches.flatten(1)  # (n, C*k*k)
        patches = patches[patches.abs().amax(1) > 0]
        found.append(patches[: n_patches - have])
        have += len(found[-1])
        if have == n_patches:
            break
    return torch.cat(found)


def fit_patch_dictionary(
    images: Tensor,
    n_components: int,
    kernel_size: int,
    *,
    alpha: float,
    n_patches: int = 20000,
    seed: int = 0,
    padding: int = 0,
    positive: bool = True,
    n_epochs: int = 2,
    batch_size: int = 256,
) -> Tensor:
    """Learn ``n_components`` patch atoms from random patches of ``images``.

    The patches (:func:`sample_patches`) are centred, each channel of each patch to mean 0
    (constant patches, such as blank background, are skipped), and fitted by
    :class:`~actsparse.interpret.dictionary.DictionaryLearning` with the same ``alpha`` and
    code sign as the front end that will use the atoms; the atoms are then made exactly
    zero-mean per channel and of unit norm. No preprocessing is needed at encode time: a
    patch's channel means are orthogonal to every zero-mean atom, so they change neither its
    correlations nor its reconstruction error, and :class:`SparseCodingConv2d` codes a raw
    patch exactly as it codes the centred one. (No contrast normalisation: ``alpha`` is in
    the images' own units, 0-1 pixels for the zoo's images.) Centring removes the large
    shared "brightness" direction from ``D D^T``, which would otherwise dominate its largest
    eigenvalue ``L`` and slow FISTA several-fold.

    Deterministic for a given ``seed``: the learning runs on one torch thread (its products
    are small: on a busy 2-core machine this was 8x faster than two threads), so the atoms do
    not depend on the thread setting; torch's global generator is left as it was.

    Args:
        images: ``(N, C, H, W)`` training images, as the model will see them.
        n_components: number of atoms (the front end's output channels).
        kernel_size: the patch side ``k``.
        alpha: L1 weight of the codes (as :class:`SparseCodingConv2d`'s ``alpha``).
        n_patches: how many patches to learn from.
        seed: the sampling and learning seed.
        padding: zero padding of the images before sampling (the front end's padding).
        positive: learn for non-negative codes (as ``SparseCodingConv2d(positive=True)``).
        n_epochs, batch_size: passed to ``DictionaryLearning`` (on MNIST its online objective
            is within 1% of its 5-epoch value after 2 epochs).

    Returns ``(n_components, C, k, k)`` atoms of unit norm and zero mean in each channel.

    Example:
        >>> from actsparse.zoo import load_data
        >>> images = load_data("digits", split="train", limit=100).images
        >>> d = fit_patch_dictionary(images, 8, 3, alpha=0.2, n_patches=300, n_epochs=1)
        >>> tuple(d.shape), round(float(d.flatten(1).norm(dim=1).min()), 4)
        ((8, 1, 3, 3), 1.0)
        >>> bool(d.mean((2, 3)).abs().max() < 1e-6)
        True
    """
    if n_components < 1:
        raise ValueError(f"n_components must be >= 1, got {n_components}")
    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0, got {alpha}")
    from actsparse.interpret.dictionary import DictionaryLearning

    patches = sample_patches(images, n_patches, kernel_size, padding=padding, centre=True,
                             seed=seed)
    if len(patches) < n_components:
        raise ValueError(f"only {len(patches)} non-constant {kernel_size}x{kernel_size} patches "
                         f"found, fewer than the {n_components} atoms asked for; pass more "
                         "(or less blank) images")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small products: faster on one thread, and thread-independent
    try:
        with torch.random.fork_rng(devices=[]):
            learner = DictionaryLearning(
                n_components, alpha=alpha, batch_size=batch_size, n_epochs=n_epochs,
                positive_code=positive, random_state=seed,
            ).fit(patches)
    finally:
        torch.set_num_threads(threads)
    atoms = torch.as_tensor(learner.components_, dtype=images.dtype)
    atoms = atoms.reshape(n_components, images.shape[1], kernel_size * kernel_size)
    atoms = atoms - atoms.mean(2, keepdim=True)  # exactly zero-mean per channel
    return unit_atoms(atoms).reshape(n_components, images.shape[1], kernel_size, kernel_size)


__all__ = ["SparseCodingConv2d", "fit_patch_dictionary", "sample_patches", "unit_atoms"]
