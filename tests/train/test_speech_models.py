"""The keyword-spotting models: shapes, named hidden layers, and every sparsity spec."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import actsparse
from actsparse.induce.kwinners import KWinners, KWinners2d
from actsparse.train.models import build_model, model_config
from actsparse.train.spec import SparsitySpecError, parse_sparsity

pytestmark = pytest.mark.usefixtures("one_thread")

LAYERS = {"ds-cnn": [f"act{i}" for i in range(1, 10)], "gsc-cnn": ["act1", "act2", "act3"]}


def net(arch: str, sparsity: str = "none") -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(model_config(arch, (1, 40, 98), 12), parse_sparsity(sparsity))


@pytest.mark.parametrize("arch", ["ds-cnn", "gsc-cnn"])
@pytest.mark.parametrize("sparsity", ["none", "dropout:0.2", "l1:1e-3", "kwta:0.1", "topk:50"])
def test_logits_shape_and_hidden_layers(arch: str, sparsity: str) -> None:
    model = net(arch, sparsity)
    assert model.hidden_layers == LAYERS[arch]
    out = model(torch.randn(3, 1, 40, 98))
    assert out.shape == (3, 12) and bool(torch.isfinite(out).all())
    out.sum().backward()  # trainable end to end
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_ds_cnn_follows_ds_cnn_s() -> None:
    model = net("ds-cnn")
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.kernel_size, c.stride, c.groups) for c in convs[:3]] == [
        ((4, 10), (2, 2), 1), ((3, 3), (1, 1), 64), ((1, 1), (1, 1), 1)]
    assert len(convs) == 9 and {c.out_channels for c in convs} == {64}
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 9


def test_gsc_cnn_has_numentas_shape() -> None:
    model = net("gsc-cnn")
    assert (model.conv1.out_channels, model.conv2.out_channels, model.conv1.kernel_size) == (
        64, 64, (5, 5))
    assert (model.fc1.in_features, model.fc1.out_features) == (64 * 7 * 21, 1000)


@pytest.mark.parametrize("arch", ["ds-cnn", "gsc-cnn"])
def test_kwta_layers_have_the_density_asked_for(arch: str) -> None:
    model = net(arch, "kwta:0.1").eval()
    kinds = [type(getattr(model, name)) for name in LAYERS[arch]]
    assert set(kinds) <= {KWinners, KWinners2d} and KWinners2d in kinds
    prof = actsparse.profile(model, [torch.randn(4, 1, 40, 98)], layers=LAYERS[arch])
    for layer in prof:
        assert layer.density == pytest.approx(0.1, abs=0.01), layer.name


@pytest.mark.parametrize("arch", ["ds-cnn", "gsc-cnn"])
def test_sparse_coding_front_end_is_refused(arch: str) -> None:
    with pytest.raises(SparsitySpecError, match=f"{arch} has none"):
        net(arch, "sc:0.1")


def test_a_ds_cnn_runs_the_modules_swapped_into_it() -> None:
    net = build_model(model_config("ds-cnn", (1, 40, 98), 12), parse_sparsity("kwta:0.2")).eval()
    x = torch.randn(2, 1, 40, 98)
    net.act3 = nn.Identity()  # what export_ready and accelerate() do to a module
    net.conv5 = nn.Sequential(nn.Conv2d(64, 64, 1, bias=False), nn.BatchNorm2d(64))
    with torch.no_grad():
        ref = net.fc(net.pool(_by_hand(net, x)).flatten(1))
        assert torch.equal(net(x), ref)


def _by_hand(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    for i in range(1, 10):
        x = getattr(net, f"act{i}")(getattr(net, f"conv{i}")(x))
    return x


def test_a_kwta_ds_cnn_exports_to_onnx_and_runs_in_onnxruntime(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    from actsparse.exploit.onnx_export import check_onnx, export_onnx

    torch.manual_seed(0)
    net = build_model(model_config("ds-cnn", (1, 40, 98), 12), parse_sparsity("kwta:0.15")).eval()
    x = torch.randn(3, 1, 40, 98)
    path = export_onnx(net, x, tmp_path / "kws.onnx")
    assert check_onnx(path, net, [x, torch.randn(1, 1, 40, 98)]) < 1e-4
