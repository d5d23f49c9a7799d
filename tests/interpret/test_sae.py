"""SparseAutoencoder mechanics, geometric median, training and metrics on small synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.optimize import minimize

from actsparse.interpret.geometric_median import geometric_median
from actsparse.interpret.sae import SparseAutoencoder
from actsparse.interpret.sae_eval import (
    dead_fraction,
    density_histogram,
    evaluate_sae,
    fvu,
    l0,
)
from actsparse.interpret.sae_train import load_sae, sae_metadata, save_sae, train_sae


def _perturbed(d_in: int = 16, n_latents: int = 64, k: int = 5, **kw: object) -> SparseAutoencoder:
    sae = SparseAutoencoder(d_in, n_latents, k, **kw).double()  # type: ignore[arg-type]
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        sae.b_pre.copy_(torch.randn(d_in, generator=gen, dtype=torch.double))
        sae.b_enc.copy_(torch.randn(n_latents, generator=gen, dtype=torch.double))
        sae.w_enc.add_(0.3 * torch.randn(n_latents, d_in, generator=gen, dtype=torch.double))
        sae.input_scale.fill_(1.7)
    return sae


def _dense_loss(sae: SparseAutoencoder, x: torch.Tensor, dead: torch.Tensor) -> torch.Tensor:
    """The same loss written densely, differentiated by plain autograd."""
    s = sae.input_scale
    pre = (x * s - sae.b_pre) @ sae.w_enc.t() + sae.b_enc
    values, indices = pre.topk(sae.k, dim=1)
    codes = torch.zeros_like(pre).scatter(1, indices, F.relu(values))
    x_hat = codes @ sae.w_dec + sae.b_pre
    mse = (x_hat - x * s).pow(2).mean()
    residual = (x * s - x_hat).detach()
    aux_v, aux_i = pre.masked_fill(~dead, float("-inf")).topk(min(sae.k_aux, int(dead.sum())), 1)
    aux_hat = torch.zeros_like(pre).scatter(1, aux_i, F.relu(aux_v)) @ sae.w_dec
    aux = (aux_hat - residual).pow(2).sum() / residual.pow(2).sum()
    return mse + sae.aux_coef * aux


def test_topk_keeps_exactly_k_latents() -> None:
    sae = SparseAutoencoder(8, 40, k=6)
    with torch.no_grad():
        sae.b_enc.fill_(100.0)  # every pre-activation positive: ReLU never zeroes a kept one
    codes = sae.encode(torch.randn(30, 8))
    assert codes.shape == (30, 40)
    assert ((codes != 0).sum(1) == 6).all()
    values, indices = sae.encode_topk(torch.randn(30, 8))
    assert values.shape == indices.shape == (30, 6)


def test_topk_keeps_the_largest_preactivations() -> None:
    sae = SparseAutoencoder(8, 40, k=3)
    x = torch.randn(10, 8)
    pre = sae.pre_activations(x)
    _, indices = sae.encode_topk(x)
    expected = pre.topk(3, dim=1).indices.sort(1).values
    torch.testing.assert_close(indices.sort(1).values, expected)


def test_sparse_backward_matches_dense_autograd() -> None:
    sae = _perturbed(k_aux=7)
    x = torch.randn(33, 16, dtype=torch.double, generator=torch.Generator().manual_seed(2))
    dead = torch.zeros(64, dtype=torch.bool)
    dead[::3] = True
    out = sae(x, dead)
    out.loss.backward()
    sparse_grads = {name: p.grad.clone() for name, p in sae.named_parameters()}
    sae.zero_grad()
    reference = _dense_loss(sae, x, dead)
    torch.testing.assert_close(out.loss, reference)
    reference.backward()
    for name, p in sae.named_parameters():
        torch.testing.assert_close(sparse_grads[name], p.grad, msg=name)


def test_decoder_rows_unit_norm_and_parallel_gradient_removed() -> None:
    sae = _perturbed().float()
    x = torch.randn(64, 16)
    sae(x).loss.backward()
    assert sae.w_dec.grad is not None
    assert (sae.w_dec.grad * sae.w_dec).sum(1).abs().max() > 1e-4  # there was a parallel part
    sae.remove_parallel_grads_()
    assert (sae.w_dec.grad * sae.w_dec).sum(1).abs().max() < 1e-6
    result = train_sae(torch.randn(256, 16) * 3, expansion=4, k=4, steps=5, batch_size=64)
    torch.testing.assert_close(result.sae.w_dec.norm(dim=1), torch.ones(64))


def test_decode_of_encode_is_the_reconstruction() -> None:
    sae = _perturbed().float()
    x = torch.randn(20, 16)
    torch.testing.assert_close(sae.decode(sae.encode(x)), sae(x).reconstruction)
    out = sae(x)
    torch.testing.assert_close(out.codes(64), sae.encode(x))


def test_input_scale_is_undone_in_the_output(one_thread: None) -> None:
    x = torch.randn(400, 16) * 50 + 10
    result = train_sae(x, expansion=4, k=8, steps=60, batch_size=200, lr=3e-3)
    sae = result.sae
    assert abs(float((x * sae.input_scale).pow(2).sum(1).mean()) - 16) < 1e-2
    assert fvu(x, sae(x).reconstruction.detach()) < 0.6  # in the data's units, not scaled ones


def test_geometric_median_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(40, 3)) * [1.0, 2.0, 0.5] + [3.0, -1.0, 2.0]

    def total(y: np.ndarray) -> float:
        return float(np.linalg.norm(points - y, axis=1).sum())

    ref = minimize(total, points.mean(0), method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000}).x
    ours = geometric_median(torch.tensor(points)).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    assert total(ours) <= total(ref) + 1e-9


def test_geometric_median_robust_to_an_outlier_unlike_the_mean() -> None:
    gen = torch.Generator().manual_seed(0)
    points = torch.randn(50, 4, generator=gen, dtype=torch.double)
    clean = geometric_median(points)
    spoiled = torch.cat([points, torch.full((1, 4), 1e4, dtype=torch.double)])
    assert (geometric_median(spoiled) - clean).norm() < 0.1
    assert (spoiled.mean(0) - points.mean(0)).norm() > 100


def test_geometric_median_batched_and_weighted() -> None:
    gen = torch.Generator().manual_seed(0)
    sets = torch.randn(3, 20, 5, generator=gen, dtype=torch.double)
    batched = geometric_median(sets)
    for i in range(3):
        torch.testing.assert_close(batched[i], geometric_median(sets[i]))
    doubled = torch.cat([sets[0], sets[0][:1]])
    weights = torch.ones(20, dtype=torch.double)
    weights[0] = 2.0
    torch.testing.assert_close(geometric_median(sets[0], weights), geometric_median(doubled))


def test_geometric_median_errors() -> None:
    with pytest.raises(ValueError, match="n >= 1"):
        geometric_median(torch.zeros(0, 3))
    with pytest.raises(ValueError, match="weights must have shape"):
        geometric_median(torch.zeros(4, 3), torch.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        geometric_median(torch.zeros(2, 3), torch.tensor([1.0, -1.0]))
    with pytest.raises(TypeError, match="floating-point"):
        geometric_median(torch.zeros(4, 3, dtype=torch.long))


def test_aux_loss_is_zero_when_nothing_is_dead() -> None:
    sae = _perturbed().float()
    x = torch.randn(32, 16)
    assert float(sae(x).aux) == 0.0
    assert float(sae(x, torch.zeros(64, dtype=torch.bool)).aux) == 0.0
    with torch.no_grad():
        out = sae(x, torch.ones(64, dtype=torch.bool))
    assert float(out.aux) > 0.0
    assert float(out.loss) == pytest.approx(float(out.mse + sae.aux_coef * out.aux))


def _train_with_dead_half(aux_coef: float, steps: int = 150) -> int:
    """Latents 32..63 start with tiny encoder rows: they never win TopK on their own."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2048, 16, generator=gen)
    sae = SparseAutoencoder(16, 64, k=4, k_aux=8, aux_coef=aux_coef)
    with torch.no_grad():
        sae.w_enc[32:] *= 0.05
    opt = torch.optim.Adam(sae.parameters(), lr=1e-2)
    since = torch.zeros(64, dtype=torch.long)
    for step in range(steps):
        rows = x[(step * 256) % 2048:][:256]
        out = sae(rows, since >= 512)
        opt.zero_grad()
        out.loss.backward()
        sae.remove_parallel_grads_()
        opt.step()
        sae.normalize_decoder_()
        since += 256
        since[out.indices[out.values > 0]] = 0
    density = evaluate_sae(sae, x)["density"]
    return int((density[32:] == 0).sum())


def test_aux_loss_revives_dead_latents(one_thread: None) -> None:
    assert _train_with_dead_half(aux_coef=0.0) == 32  # without AuxK they stay dead
    assert _train_with_dead_half(aux_coef=1 / 32) <= 2


def test_fvu_perfect_is_zero_and_mean_is_one() -> None:
    x = torch.randn(200, 6) * 3 + 1
    assert fvu(x, x) == 0.0
    assert fvu(x, x.mean(0).expand_as(x)) == pytest.approx(1.0)
    assert fvu(x, x + 0.1 * torch.randn_like(x)) == pytest.approx(
        0.01 * 6 * 200 / float((x - x.mean(0)).pow(2).sum()), rel=0.2)
    with pytest.raises(ValueError, match="one shape"):
        fvu(x, x[:10])
    with pytest.raises(ValueError, match="no variance"):
        fvu(torch.ones(5, 2), torch.ones(5, 2))


def test_evaluate_sae_agrees_with_the_plain_formulas() -> None:
    sae = _perturbed().float()
    x = torch.randn(300, 16)
    metrics = evaluate_sae(sae, x, batch_size=64)  # streamed over 5 chunks
    x_hat = sae(x).reconstruction.detach()
    codes = sae.encode(x)
    assert metrics["fvu"] == pytest.approx(fvu(x, x_hat), rel=1e-5)
    assert metrics["l0"] == pytest.approx(l0(codes))
    density = (codes > 0).float().mean(0)
    torch.testing.assert_close(metrics["density"], density)
    assert metrics["dead_fraction"] == pytest.approx(dead_fraction(density))
    hist = metrics["density_histogram"]
    assert hist["dead"] + hist["live"] == 64 and sum(hist["counts"]) == hist["live"]


def test_density_histogram_bins() -> None:
    hist = density_histogram(torch.tensor([0.0, 1e-9, 1e-3, 1e-3, 0.5, 1.0]), bins=6, low=-6)
    assert hist["dead"] == 1 and hist["live"] == 5
    assert hist["counts"] == [1, 0, 0, 2, 0, 2]  # 1e-9 clamps into the first bin
    with pytest.raises(ValueError, match="bins"):
        density_histogram(torch.ones(3), bins=0)


def test_trained_sae_reconstructs_sparse_data_well(one_thread: None) -> None:
    gen = torch.Generator().manual_seed(0)
    atoms = F.normalize(torch.randn(48, 16, generator=gen), dim=1)
    codes = torch.rand(4096, 48, generator=gen) * (torch.rand(4096, 48, generator=gen) < 0.06)
    x = codes @ atoms + 0.5
    result = train_sae(x, n_latents=96, k=6, steps=300, batch_size=256, lr=3e-3)
    metrics = evaluate_sae(result.sae, x)
    assert metrics["fvu"] < 0.15
    assert metrics["l0"] <= 6
    assert metrics["dead_fraction"] < 0.1
    assert result.history["mse"][-1] < result.history["mse"][0] / 3


def test_training_is_deterministic_with_a_seed(one_thread: None) -> None:
    x = torch.randn(500, 8)
    a = train_sae(x, expansion=2, k=3, steps=15, batch_size=100, seed=3).sae
    b = train_sae(x, expansion=2, k=3, steps=15, batch_size=100, seed=3).sae
    c = train_sae(x, expansion=2, k=3, steps=15, batch_size=100, seed=4).sae
    for name, p in a.state_dict().items():
        torch.testing.assert_close(p, b.state_dict()[name], rtol=0, atol=0)
    assert not torch.equal(a.w_dec, c.w_dec)


def test_save_load_round_trip(tmp_path: object) -> None:
    sae = _perturbed(k_aux=5, aux_coef=0.1).float()
    path = save_sae(sae, f"{tmp_path}/sub/sae.safetensors", meta={"layer": "model.layers.3"})
    loaded = load_sae(path)
    x = torch.randn(10, 16)
    torch.testing.assert_close(loaded(x).reconstruction, sae(x).reconstruction)
    assert loaded.config() == sae.config()
    assert float(loaded.input_scale) == pytest.approx(1.7)
    assert sae_metadata(path)["meta"] == {"layer": "model.layers.3"}
    with pytest.raises(FileNotFoundError):
        load_sae(f"{tmp_path}/missing.safetensors")


def test_bad_sizes_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="k=10 is larger than the number of latents"):
        SparseAutoencoder(4, 8, k=10)
    with pytest.raises(ValueError, match="n_latents must be a positive integer"):
        SparseAutoencoder(4, 0, k=1)
    with pytest.raises(ValueError, match="n_latents must be a positive integer"):
        SparseAutoencoder(4, -5, k=1)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        SparseAutoencoder(4, 8, k=0)
    with pytest.raises(ValueError, match="k_aux"):
        SparseAutoencoder(4, 8, k=2, k_aux=0)
    with pytest.raises(ValueError, match="aux_coef"):
        SparseAutoencoder(4, 8, k=2, aux_coef=-1.0)


def test_wrong_width_raises_a_clear_error() -> None:
    sae = SparseAutoencoder(6, 12, k=2)
    with pytest.raises(ValueError, match="width 5 .* d_in=6"):
        sae(torch.randn(3, 5))
    with pytest.raises(ValueError, match="width 5"):
        sae.encode(torch.randn(3, 5))
    with pytest.raises(ValueError, match="12 latents"):
        sae.decode(torch.randn(3, 11))
    with pytest.raises(ValueError, match="dead must be a bool mask"):
        sae(torch.randn(3, 6), torch.ones(5, dtype=torch.bool))
    with pytest.raises(ValueError, match="width 7"):
        evaluate_sae(sae, torch.randn(4, 7))


def test_train_sae_rejects_bad_input() -> None:
    x = torch.randn(50, 4)
    with pytest.raises(ValueError, match="larger than the number of latents"):
        train_sae(x, n_latents=8, k=9, steps=1)
    with pytest.raises(ValueError, match="positive integer"):
        train_sae(x, n_latents=0, k=1, steps=1)
    with pytest.raises(ValueError, match="expansion must be positive"):
        train_sae(x, expansion=0, steps=1)
    with pytest.raises(ValueError, match=r"shape \(N, d_in\)"):
        train_sae(torch.randn(50), steps=1)
    with pytest.raises(ValueError, match="NaN"):
        train_sae(torch.full((5, 4), float("nan")), steps=1)
    with pytest.raises(ValueError, match="all zero"):
        train_sae(torch.zeros(10, 4), k=2, steps=1)
    with pytest.raises(ValueError, match="batch_size"):
        train_sae(x, k=2, steps=1, batch_size=0)
    with pytest.raises(ValueError, match="steps"):
        train_sae(x, k=2, steps=0)
