"""relufy: GELU/SiLU modules (torch and Hugging Face) replaced in place, and undone exactly."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import actsparse
from actsparse import zoo
from actsparse.induce.relufy import Relufied, ShiftedReLU, default_types, relufy


def toy() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Sequential(nn.Linear(8, 8), nn.SiLU()),
                         nn.Linear(8, 2), nn.Tanh())


def test_replaces_gelu_and_silu_and_undo_restores() -> None:
    net = toy()
    x = torch.randn(5, 4)
    before = net(x)
    gelu, silu = net[1], net[2][1]
    done = relufy(net)
    assert isinstance(done, Relufied) and isinstance(done, dict)
    assert list(done) == ["1", "2.1"]
    assert done["1"][0] is gelu and done["2.1"][0] is silu
    assert isinstance(net[1], nn.ReLU) and isinstance(net[2][1], nn.ReLU)
    assert isinstance(net[4], nn.Tanh)  # not a GELU/SiLU: left alone
    expected = torch.tanh(net[3](torch.relu(net[2][0](torch.relu(net[0](x))))))
    torch.testing.assert_close(net(x), expected)
    assert done.undo() is net
    assert net[1] is gelu and net[2][1] is silu and len(done) == 0
    assert torch.equal(net(x), before)


def test_shifted_and_chosen_types() -> None:
    net = toy()
    done = relufy(net, to="shifted", shift=0.5, types=nn.SiLU)
    assert list(done) == ["2.1"] and isinstance(net[1], nn.GELU)
    assert isinstance(net[2][1], ShiftedReLU) and net[2][1].shift == 0.5
    x = torch.tensor([-1.0, 0.25, 0.5, 2.0])
    assert ShiftedReLU(0.5)(x).tolist() == [0.0, 0.0, 0.0, 1.5]
    assert repr(ShiftedReLU(0.5)) == "ShiftedReLU(shift=0.5)"


def test_shared_module_gets_one_shared_replacement() -> None:
    act = nn.GELU()
    net = nn.Sequential(nn.Linear(3, 3), act, nn.Linear(3, 3), act)
    done = relufy(net)
    assert net[1] is net[3] and isinstance(net[1], nn.ReLU)
    assert sorted(done) == ["1", "3"]
    done.undo()
    assert net[1] is act and net[3] is act


def test_errors() -> None:
    with pytest.raises(ValueError, match="to must be 'relu' or 'shifted'"):
        relufy(toy(), to="gelu")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="nn.Module classes"):
        relufy(toy(), types=(int,))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="the model itself is a GELU"):
        relufy(nn.GELU())
    net = toy()
    done = relufy(net)
    net[1] = nn.Identity()
    with pytest.raises(RuntimeError, match="module '1' is no longer the replacement"):
        done.undo()
    assert isinstance(net[2][1], nn.ReLU)  # nothing was changed


def test_profiler_finds_shifted_relu() -> None:
    net = nn.Sequential(nn.Linear(4, 16), ShiftedReLU(0.5))
    prof = actsparse.profile(net, [torch.randn(32, 4)])
    assert prof.names == ["1"]


def test_minilm_every_gelu_replaced_outputs_finite_and_undo_exact(minilm: zoo.ZooModel) -> None:
    model = minilm.module
    data = zoo.load_data("text", split="test", limit=8)
    batch = next(iter(minilm.batches(data, batch_size=8, max_length=32)))
    hf_types = tuple(t for t in default_types() if t.__module__ == "transformers.activations")
    assert hf_types, "transformers.activations classes are found once the model is loaded"
    gelus = [n for n, m in model.named_modules() if isinstance(m, default_types())]
    assert len(gelus) == 6
    was_training = model.training
    model.eval()
    with torch.no_grad():
        before = model(**batch).last_hidden_state
    done = relufy(model)
    try:
        assert sorted(done) == sorted(gelus)
        assert not any(isinstance(m, default_types()) for m in model.modules())
        assert all(isinstance(model.get_submodule(n), nn.ReLU) for n in gelus)
        with torch.no_grad():
            after = model(**batch).last_hidden_state
        assert torch.isfinite(after).all()
        assert not torch.equal(after, before)
    finally:
        done.undo()
        model.train(was_training)
    model.eval()
    with torch.no_grad():
        restored = model(**batch).last_hidden_state
    model.train(was_training)
    assert torch.equal(restored, before)
