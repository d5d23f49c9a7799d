"""BatchTopK, JumpReLU and Matryoshka SAEs and transcoders: shapes, sparsity, training, saving."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from actsparse.interpret.sae import SparseAutoencoder
from actsparse.interpret.sae_eval import evaluate_sae
from actsparse.interpret.sae_train import load_sae, save_sae, train_sae

ARCHS = ["topk", "batchtopk", "jumprelu", "matryoshka"]


def _sparse_data(n: int = 3072, d: int = 16, features: int = 64, seed: int = 0,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Vectors made of about 4 of ``features`` unit directions; and the directions."""
    gen = torch.Generator().manual_seed(seed)
    directions = F.normalize(torch.randn(features, d, generator=gen), dim=1)
    on = torch.rand(n, features, generator=gen) < 4 / features
    codes = on * (0.5 + torch.rand(n, features, generator=gen))
    return codes @ directions, directions


def _trained(arch: str, x: torch.Tensor, steps: int = 200, **kw: object) -> SparseAutoencoder:
    return train_sae(x, architecture=arch, expansion=4, k=4, steps=steps, batch_size=256,
                     **kw).sae  # type: ignore[arg-type]


@pytest.mark.parametrize("arch", ARCHS)
def test_shapes_of_every_architecture(arch: str) -> None:
    sae = SparseAutoencoder(8, 32, k=4, architecture=arch)
    x = torch.randn(2, 5, 8)
    out = sae(x)
    assert out.reconstruction.shape == (2, 5, 8)
    assert out.values.shape == out.indices.shape and out.values.shape[0] == 10
    assert sae.encode(x).shape == (2, 5, 32)
    assert sae.decode(sae.encode(x)).shape == (2, 5, 8)
    out.loss.backward()
    assert sae.w_enc.grad is not None and sae.w_dec.grad is not None


def test_batchtopk_keeps_k_per_row_on_average_in_training() -> None:
    sae = SparseAutoencoder(8, 40, k=5, architecture="batchtopk").train()
    with torch.no_grad():
        sae.b_enc.fill_(100.0)  # every pre-activation positive
    out = sae(torch.randn(64, 8))
    per_row = (out.codes(40) != 0).sum(1)
    assert int(per_row.sum()) == 5 * 64
    assert float(out.l0) == 5.0
    assert bool(torch.isfinite(sae.threshold))


def test_batchtopk_codes_do_not_depend_on_the_batch_at_inference() -> None:
    x, _ = _sparse_data()
    sae = _trained("batchtopk", x, steps=50).eval()
    held = x[:100]
    alone = torch.cat([sae.encode(held[i:i + 1]) for i in range(100)])
    torch.testing.assert_close(alone, sae.encode(held))
    pre = sae.pre_activations(held)
    codes = sae.encode(held)
    torch.testing.assert_close(codes, pre * (pre > sae.threshold))


@pytest.mark.parametrize("arch", ["batchtopk", "matryoshka"])
def test_trained_threshold_gives_mean_l0_k_on_the_training_vectors(arch: str) -> None:
    x, _ = _sparse_data(n=2048)
    sae = _trained(arch, x, steps=40)
    assert evaluate_sae(sae, x)["l0"] == pytest.approx(4.0, abs=0.05)
    with pytest.raises(ValueError, match="for architecture='batchtopk'"):
        SparseAutoencoder(8, 32, k=4).calibrate_threshold_(torch.randn(5, 8))


def test_jumprelu_codes_are_exactly_zero_below_the_thresholds() -> None:
    sae = SparseAutoencoder(8, 32, k=4, architecture="jumprelu")
    with torch.no_grad():
        sae.log_threshold.copy_(torch.linspace(-4, 0, 32))
    x = torch.randn(50, 8) * 5
    pre, codes = sae.pre_activations(x), sae.encode(x)
    theta = sae.log_threshold.exp()
    assert bool((codes[pre <= theta] == 0).all())
    torch.testing.assert_close(codes[pre > theta], pre[pre > theta])


def test_jumprelu_thresholds_get_gradient_only_near_the_threshold() -> None:
    sae = SparseAutoencoder(8, 32, k=4, architecture="jumprelu", bandwidth=0.05,
                            aux_coef=0.0)
    with torch.no_grad():
        sae.log_threshold.copy_(torch.linspace(-5, 1, 32))  # some far above every pre-act
    x = torch.randn(40, 8, generator=torch.Generator().manual_seed(0)) * 3
    pre = sae.pre_activations(x).detach()
    theta = sae.log_threshold.exp().detach()
    near = ((pre - theta).abs() < 0.025).any(0)  # (n_latents,)
    sae(x).loss.backward()
    grad = sae.log_threshold.grad
    assert grad is not None and bool(near.any()) and not bool(near.all())
    assert bool((grad[~near] == 0).all())
    assert bool((grad[near] != 0).any())


def test_jumprelu_thresholds_learn_and_l0_coef_sets_the_sparsity() -> None:
    x, _ = _sparse_data()
    loose = train_sae(x, architecture="jumprelu", expansion=4, k=4, steps=150, batch_size=256,
                      l0_coef=1e-4)
    tight = train_sae(x, architecture="jumprelu", expansion=4, k=4, steps=150, batch_size=256,
                      l0_coef=3e-2)
    start = SparseAutoencoder(16, 64, k=4, architecture="jumprelu").log_threshold
    assert not torch.equal(loose.sae.log_threshold.detach(), start)
    assert evaluate_sae(tight.sae, x)["l0"] < evaluate_sae(loose.sae, x)["l0"]
    assert tight.history["l0"][-1] < loose.history["l0"][-1]


def test_matryoshka_loss_sums_the_prefix_reconstructions() -> None:
    sae = SparseAutoencoder(8, 32, k=4, architecture="matryoshka", prefixes=[4, 16, 32],
                            aux_coef=0.0).train()
    x = torch.randn(20, 8)
    out = sae(x)
    codes = out.codes(32).detach()
    total = sum(((codes * (torch.arange(32) < m)) @ sae.w_dec + sae.b_pre - x).pow(2).mean()
                for m in (4, 16, 32))
    torch.testing.assert_close(out.loss.detach(), total.detach())
    torch.testing.assert_close(out.mse.detach(), (out.reconstruction - x).pow(2).mean().detach())


def test_matryoshka_first_prefix_reconstructs_better_than_topk_first_latents() -> None:
    x, _ = _sparse_data()
    held = x[:512]

    @torch.no_grad()
    def prefix_fvu(sae: SparseAutoencoder, size: int) -> float:
        codes = sae.encode(held) * (torch.arange(sae.n_latents) < size)
        err = (sae.decode(codes) - held).pow(2).sum()
        return float(err / (held - held.mean(0)).pow(2).sum())

    nested = _trained("matryoshka", x, prefixes=[16, 32, 64])
    flat = _trained("topk", x)
    assert prefix_fvu(nested, 16) < 0.8 * prefix_fvu(flat, 16)
    assert prefix_fvu(nested, 64) < prefix_fvu(nested, 32) < prefix_fvu(nested, 16) < 1


@pytest.mark.parametrize("arch", ARCHS)
def test_training_reduces_held_out_fvu(arch: str) -> None:
    x, _ = _sparse_data()
    short = _trained(arch, x[:2560], steps=2)
    long = _trained(arch, x[:2560], steps=200)
    before, after = evaluate_sae(short, x[2560:]), evaluate_sae(long, x[2560:])
    assert after["fvu"] < 0.5 * before["fvu"]
    assert after["fvu"] < 0.3


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("transcoder", [False, True])
def test_save_load_round_trip(arch: str, transcoder: bool, tmp_path: Path) -> None:
    x, _ = _sparse_data(n=1024)
    y = x @ torch.randn(16, 6) if transcoder else None
    sae = train_sae(x, targets=y, architecture=arch, expansion=2, k=3, steps=10,
                    batch_size=256, prefixes=[8, 32] if arch == "matryoshka" else None).sae
    loaded = load_sae(save_sae(sae, tmp_path / "sae.safetensors"))
    assert loaded.config() == sae.config()
    assert not loaded.training
    torch.testing.assert_close(loaded.encode(x[:64]), sae.encode(x[:64]))
    torch.testing.assert_close(loaded.decode(loaded.encode(x[:64])),
                               sae.decode(sae.encode(x[:64])))


def test_transcoder_learns_a_sparse_map_and_fvu_is_against_the_target() -> None:
    gen = torch.Generator().manual_seed(3)
    x, _ = _sparse_data()
    y = F.relu(x @ torch.randn(16, 24, generator=gen)) @ torch.randn(24, 10, generator=gen)
    short = train_sae(x, targets=y, expansion=4, k=8, steps=2, batch_size=256)
    long = train_sae(x, targets=y, expansion=4, k=8, steps=150, batch_size=256)
    sae = long.sae
    assert (sae.d_in, sae.d_out, sae.w_dec.shape) == (16, 10, (64, 10))
    assert sae.decode(sae.encode(x[:5])).shape == (5, 10)
    after = evaluate_sae(sae, x, targets=y)["fvu"]
    assert after < 0.5 * evaluate_sae(short.sae, x, targets=y)["fvu"]
    with torch.no_grad():
        err = (sae.decode(sae.encode(x)) - y).pow(2).sum()
    assert after == pytest.approx(float(err / (y - y.mean(0)).pow(2).sum()), rel=1e-4)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"architecture": "gated"}, "unknown architecture 'gated'"),
    ({"architecture": "topk", "prefixes": [8, 32]}, "prefixes are for"),
    ({"architecture": "matryoshka", "prefixes": [16, 8, 32]}, "increasing"),
    ({"architecture": "matryoshka", "prefixes": [8, 16]}, "the last one n_latents"),
    ({"architecture": "jumprelu", "l0_coef": -1.0}, "l0_coef must be >= 0"),
    ({"architecture": "jumprelu", "bandwidth": 0.0}, "bandwidth must be positive"),
    ({"d_out": 0}, "d_out must be a positive integer"),
])
def test_bad_architecture_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SparseAutoencoder(8, 32, k=4, **kwargs)  # type: ignore[arg-type]


def test_target_errors() -> None:
    x = torch.randn(10, 8)
    with pytest.raises(ValueError, match="target is for transcoders"):
        SparseAutoencoder(8, 32, k=4)(x, target=x)
    transcoder = SparseAutoencoder(8, 32, k=4, d_out=3)
    with pytest.raises(ValueError, match="pass them as target="):
        transcoder(x)
    with pytest.raises(ValueError, match="must be \\(10, 3\\)"):
        transcoder(x, target=torch.randn(10, 4))
    with pytest.raises(ValueError, match="pass targets= for a transcoder"):
        evaluate_sae(transcoder, x)
    with pytest.raises(ValueError, match="targets has 9 rows"):
        train_sae(x, targets=torch.randn(9, 3), k=2, steps=1)
    with pytest.raises(ValueError, match="for architecture='jumprelu'"):
        SparseAutoencoder(8, 32, k=4).init_thresholds_(x)
