"""The mlp and cnn for each spec: output shapes, hidden layers, and their measured sparsity."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from actsparse.induce.kwinners import KWinners, KWinners2d
from actsparse.train import SparsitySpecError, build_model, model_config, parse_sparsity
from actsparse.train.run_metrics import evaluate

SPECS = ["none", "dropout:0.5", "l1:0.1", "hoyer:0.1", "kl:0.05:0.1", "kwta:0.1", "topk:10"]


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("arch", ["mlp", "cnn"])
@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8)])
def test_logits_shape_and_gradients(spec: str, arch: str, shape: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    model = build_model(model_config(arch, shape), parse_sparsity(spec))
    x = torch.rand(4, *shape)
    logits = model(x)
    assert logits.shape == (4, 10)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.hidden_layers == (["act1", "act2", "act3"] if arch == "cnn" else ["act1", "act2"])


def test_dropout_follows_each_hidden_activation() -> None:
    model = build_model(model_config("cnn", (1, 28, 28)), parse_sparsity("dropout:0.3"))
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert [d.p for d in drops] == [0.3, 0.3, 0.3]


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8)])
def test_kwta_layers_are_at_the_asked_density(shape: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    model = build_model(model_config("cnn", shape), parse_sparsity("kwta:0.1"))
    assert isinstance(model.act1, KWinners2d) and isinstance(model.act3, KWinners)
    _, prof = evaluate(model, torch.rand(32, *shape), torch.zeros(32, dtype=torch.long),
                       layers=model.hidden_layers)
    assert prof is not None
    for layer in prof:
        assert 0.09 <= layer.density <= 0.1, layer.name


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_topk_keeps_k_units_per_sample(arch: str) -> None:
    model = build_model(model_config(arch, (1, 8, 8)), parse_sparsity("topk:7"))
    seen = []
    for name in model.hidden_layers:
        getattr(model, name).register_forward_hook(lambda m, i, o: seen.append(o.flatten(1)))
    model(torch.rand(5, 1, 8, 8))
    assert [(o != 0).sum(1).tolist() for o in seen] == [[7] * 5] * len(seen)


def test_k_larger_than_a_layer_is_refused_when_the_model_is_built() -> None:
    with pytest.raises(SparsitySpecError, match="k=300 is larger than layer act1, which has 256"):
        build_model(model_config("mlp", (1, 28, 28)), parse_sparsity("topk:300"))


def test_unknown_architecture() -> None:
    with pytest.raises(ValueError, match="unknown model 'resnet'; choose one of: mlp, cnn"):
        model_config("resnet", (1, 28, 28))
