"""SparseCodingConv2d against sparse_encode on unfolded patches, and the patch dictionary.

Plain ISTA iterations (``polish=False``: no exact solve on the support) are compared one for one;
FISTA, whose momentum here has no restart, is compared at the optimum.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from actsparse import zoo
from actsparse.interpret.conv_coding import (
    SparseCodingConv2d,
    fit_patch_dictionary,
    sample_patches,
)
from actsparse.interpret.sparse_coding import lasso_objective, sparse_encode

pytestmark = pytest.mark.usefixtures("one_thread")


def patch_rows(x: torch.Tensor, k: int, stride: int, padding: int) -> torch.Tensor:
    """Every patch a conv sees, flattened, one row per (image, position), position-major."""
    cols = F.unfold(x, k, padding=padding, stride=stride)  # (B, C*k*k, P)
    return cols.transpose(1, 2).reshape(-1, cols.shape[1])


def code_rows(z: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) codes as (B*H*W, C) rows, in patch_rows' order."""
    return z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])


def sparse_images(n: int, c: int, size: int, seed: int) -> torch.Tensor:
    """Random images with blank areas, so that many patches are skipped as dead."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, c, size, size, generator=g)
    return x * (torch.rand(n, 1, size, size, generator=g) < 0.3)


@pytest.fixture(scope="module")
def mnist() -> torch.Tensor:
    return zoo.load_data("mnist", split="train", limit=3000).images


@pytest.fixture(scope="module")
def mnist_atoms(mnist: torch.Tensor) -> torch.Tensor:
    return fit_patch_dictionary(mnist, 30, 5, alpha=0.3, n_patches=2000, n_epochs=1)


@pytest.mark.parametrize("positive", [True, False])
@pytest.mark.parametrize(("cin", "k", "stride", "padding"),
                         [(1, 5, 1, 0), (3, 3, 2, 1), (2, 4, 1, 2)])
def test_ista_iterations_equal_sparse_encode_on_unfolded_patches(
        positive: bool, cin: int, k: int, stride: int, padding: int) -> None:
    torch.manual_seed(0)
    x = sparse_images(3, cin, 12, seed=1) - (0.0 if positive else 0.15)
    sc = SparseCodingConv2d(cin, 7, k, alpha=0.1, n_iter=9, momentum=False, positive=positive,
                            stride=stride, padding=padding)
    z = sc(x)
    ref = F.conv2d(x, sc.dictionary, stride=stride, padding=padding)
    assert z.shape == ref.shape
    rows = patch_rows(x, k, stride, padding)
    expected = sparse_encode(rows, sc.dictionary.flatten(1), algorithm="ista", alpha=0.1,
                             max_iter=9, tol=0.0, positive=positive, polish=False)
    torch.testing.assert_close(code_rows(z), expected, rtol=1e-5, atol=1e-6)
    assert 0 < (z != 0).float().mean() < 0.9  # some codes are 0, some are not
    if positive:
        assert bool((z >= 0).all())


@pytest.mark.parametrize("positive", [True, False])
def test_fista_converges_to_the_sparse_encode_solution(positive: bool) -> None:
    torch.manual_seed(1)
    x = sparse_images(2, 2, 10, seed=2)
    sc = SparseCodingConv2d(2, 6, 3, alpha=0.05, n_iter=2000, positive=positive, padding=1)
    rows = patch_rows(x, 3, 1, 1)
    expected = sparse_encode(rows, sc.dictionary.flatten(1), alpha=0.05, max_iter=5000,
                             tol=1e-7, positive=positive)
    torch.testing.assert_close(code_rows(sc(x)), expected, rtol=1e-4, atol=1e-5)


def test_fista_on_an_overcomplete_mnist_dictionary_reaches_the_optimum(
        mnist: torch.Tensor, mnist_atoms: torch.Tensor) -> None:
    x = mnist[:8]
    rows, atoms = patch_rows(x, 5, 1, 0), mnist_atoms.flatten(1)
    best = lasso_objective(rows, sparse_encode(rows, atoms, alpha=0.3, max_iter=5000, tol=1e-7,
                                               positive=True), atoms, 0.3)

    def gap(**kw: object) -> float:
        z = code_rows(SparseCodingConv2d(1, 30, 5, alpha=0.3, dictionary=mnist_atoms, **kw)(x))
        return float((lasso_objective(rows, z, atoms, 0.3) - best).sum() / best.sum())

    assert abs(gap(n_iter=3000)) < 1e-4  # the same minimum
    assert gap(n_iter=20) < 0.3 * gap(n_iter=20, momentum=False)  # FISTA beats ISTA


def test_zero_mean_atoms_code_a_raw_patch_as_its_centred_version(
        mnist: torch.Tensor, mnist_atoms: torch.Tensor) -> None:
    x = mnist[:4]
    rows = patch_rows(x, 5, 1, 0)
    centred = rows - rows.mean(1, keepdim=True)
    sc = SparseCodingConv2d(1, 30, 5, alpha=0.3, n_iter=30, momentum=False,
                            dictionary=mnist_atoms)
    expected = sparse_encode(centred, mnist_atoms.flatten(1), algorithm="ista", alpha=0.3,
                             max_iter=30, tol=0.0, positive=True, polish=False)
    torch.testing.assert_close(code_rows(sc(x)), expected, rtol=1e-4, atol=1e-5)
    brighter = sc(x + 0.25)  # a constant offset changes no code (away from the zero padding)
    torch.testing.assert_close(brighter, sc(x), rtol=1e-4, atol=1e-5)


def test_mnist_codes_are_sparse_and_blank_patches_cost_nothing(
        mnist: torch.Tensor, mnist_atoms: torch.Tensor) -> None:
    sc = SparseCodingConv2d(1, 30, 5, alpha=0.3, dictionary=mnist_atoms)
    z = sc(mnist[:64])
    assert 0.01 < float((z > 0).float().mean()) < 0.2
    assert sc.n_iter_ == 20
    assert bool((sc(torch.zeros(2, 1, 28, 28)) == 0).all()) and sc.n_iter_ == 0


def test_coding_in_blocks_changes_no_code(mnist: torch.Tensor,
                                          mnist_atoms: torch.Tensor) -> None:
    x = mnist[:12]
    whole = SparseCodingConv2d(1, 30, 5, alpha=0.3, dictionary=mnist_atoms)
    blocked = SparseCodingConv2d(1, 30, 5, alpha=0.3, dictionary=mnist_atoms)
    blocked.block_images, blocked.block_patches = 5, 300
    assert torch.equal(blocked(x), whole(x))
    assert blocked.n_iter_ == whole.n_iter_ == 20


def test_tol_stops_early_with_codes_close_to_the_full_run(
        mnist: torch.Tensor, mnist_atoms: torch.Tensor) -> None:
    x = mnist[:16]
    full = SparseCodingConv2d(1, 30, 5, alpha=0.3, n_iter=3000, dictionary=mnist_atoms)
    early = SparseCodingConv2d(1, 30, 5, alpha=0.3, n_iter=3000, tol=1e-4,
                               dictionary=mnist_atoms)
    z_full, z_early = full(x), early(x)
    assert full.n_iter_ == 3000 and 1 < early.n_iter_ < 3000
    assert float((z_early - z_full).norm() / z_full.norm()) < 0.02


def test_frozen_dictionary_travels_in_the_state_dict() -> None:
    torch.manual_seed(0)
    a = SparseCodingConv2d(1, 5, 3, alpha=0.2)
    b = SparseCodingConv2d(1, 5, 3, alpha=0.2)
    assert list(a.parameters()) == [] and list(a.state_dict()) == ["dictionary"]
    x = sparse_images(2, 1, 8, seed=3)
    assert not torch.equal(a(x), b(x))
    b.load_state_dict(a.state_dict())
    assert torch.equal(a(x), b(x))
    norms = a.dictionary.flatten(1).norm(dim=1)
    torch.testing.assert_close(norms, torch.ones(5))


def test_set_dictionary_normalises_and_accepts_flat_atoms() -> None:
    sc = SparseCodingConv2d(1, 2, 2, alpha=0.1)
    sc.set_dictionary(torch.tensor([[3.0, 0.0, 4.0, 0.0], [0.0, 2.0, 0.0, 0.0]]))
    assert sc.dictionary.shape == (2, 1, 2, 2)
    expected = torch.tensor([[0.6, 0.0, 0.8, 0.0], [0.0, 1.0, 0.0, 0.0]])
    torch.testing.assert_close(sc.dictionary.flatten(1), expected)


def test_gradient_reaches_the_input() -> None:
    torch.manual_seed(0)
    sc = SparseCodingConv2d(1, 4, 3, alpha=0.05, n_iter=5)
    x = torch.rand(1, 1, 6, 6, requires_grad=True)
    sc(x).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": -0.1}, "alpha must be a finite number >= 0, got -0.1"),
        ({"alpha": float("nan")}, "alpha must be a finite number >= 0"),
        ({"alpha": 0.1, "n_iter": 0}, "n_iter must be >= 1, got 0"),
        ({"alpha": 0.1, "tol": -1.0}, "tol must be a finite number >= 0, got -1.0"),
        ({"alpha": 0.1, "stride": 0}, "kernel_size and stride must be >= 1 and padding >= 0"),
        ({"alpha": 0.1, "dictionary": torch.ones(4, 1, 2, 2)}, "does not fit (3, 1, 3, 3)"),
        ({"alpha": 0.1, "dictionary": torch.zeros(3, 9)}, "atoms [0, 1, 2] have zero"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as err:
        SparseCodingConv2d(1, 3, 3, **kwargs)  # type: ignore[arg-type]
    assert message in str(err.value)


def test_patches_are_real_non_constant_windows_drawn_by_seed() -> None:
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6)
    x[1] = 0.0  # a blank image: none of its patches may be drawn
    p = sample_patches(x, 50, 3, seed=4)
    windows = patch_rows(x, 3, 1, 0)
    assert p.shape == (50, 27)
    assert bool((p[:, None, :] == windows[None, :16, :]).all(2).any(1).all())  # image 0 only
    assert torch.equal(p, sample_patches(x, 50, 3, seed=4))
    assert not torch.equal(p, sample_patches(x, 50, 3, seed=5))
    centred = sample_patches(x, 50, 3, centre=True, seed=4)
    torch.testing.assert_close(centred.view(50, 3, 9).mean(2), torch.zeros(50, 3))


def test_patch_dictionary_is_deterministic_and_leaves_threads_and_generator(
        mnist: torch.Tensor, mnist_atoms: torch.Tensor) -> None:
    state = torch.get_rng_state()
    fits = []
    for threads in (1, 3):  # the atoms do not depend on the thread setting, which is restored
        torch.set_num_threads(threads)
        try:
            fits.append(fit_patch_dictionary(mnist, 30, 5, alpha=0.3, n_patches=2000,
                                             n_epochs=1))
            assert torch.get_num_threads() == threads
        finally:
            torch.set_num_threads(1)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(fits[0], mnist_atoms) and torch.equal(fits[1], mnist_atoms)
    other = fit_patch_dictionary(mnist, 30, 5, alpha=0.3, n_patches=2000, n_epochs=1, seed=1)
    assert not torch.equal(other, mnist_atoms)
    assert mnist_atoms.shape == (30, 1, 5, 5)
    torch.testing.assert_close(mnist_atoms.flatten(1).norm(dim=1), torch.ones(30))
    assert float(mnist_atoms.mean((2, 3)).abs().max()) < 1e-6


def test_learned_atoms_code_better_than_random_ones(mnist: torch.Tensor,
                                                    mnist_atoms: torch.Tensor) -> None:
    x = mnist[2000:2032]  # images the dictionary was not necessarily fitted on
    rows = patch_rows(x, 5, 1, 0)
    rows = rows - rows.mean(1, keepdim=True)
    torch.manual_seed(0)
    random = SparseCodingConv2d(1, 30, 5, alpha=0.3).dictionary
    random = random - random.mean((2, 3), keepdim=True)

    def objective(atoms: torch.Tensor) -> float:
        sc = SparseCodingConv2d(1, 30, 5, alpha=0.3, n_iter=200, dictionary=atoms)
        return float(lasso_objective(rows, code_rows(sc(x)), atoms.flatten(1), 0.3).sum())

    assert objective(mnist_atoms) < 0.8 * objective(random)


@pytest.mark.parametrize(
    ("images", "kwargs", "message"),
    [
        (torch.rand(4, 1, 8, 8), {"n_components": 0}, "n_components must be >= 1, got 0"),
        (torch.rand(4, 1, 8, 8), {"alpha": 0.0}, "alpha must be a finite number > 0, got 0.0"),
        (torch.zeros(4, 1, 8, 8), {}, "only 0 non-constant 3x3 patches found"),
        (torch.rand(4, 8, 8), {}, "images must be (N, C, H, W)"),
        (torch.rand(4, 1, 2, 2), {}, "kernel_size 3 is larger than the (padded) images, 2x2"),
    ],
)
def test_bad_patch_dictionary_arguments_are_refused(images: torch.Tensor,
                                                    kwargs: dict[str, object],
                                                    message: str) -> None:
    args: dict[str, object] = {"n_components": 4, "alpha": 0.1, "n_patches": 100, **kwargs}
    with pytest.raises(ValueError) as err:
        fit_patch_dictionary(images, kernel_size=3, **args)  # type: ignore[arg-type]
    assert message in str(err.value)
