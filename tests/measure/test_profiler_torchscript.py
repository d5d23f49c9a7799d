"""TorchScript modules: profiled from their frozen graph with the same statistics as eager."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import actsparse


class _Cnn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.act = nn.ReLU()
        self.fc = nn.Linear(4 * 4 * 4, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(self.act(self.conv(x)), 2)  # (B, 4, 4, 4)
        return F.relu(self.fc(x.flatten(1)))


def _batches() -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(5, 1, 10, 10, generator=gen) for _ in range(3)]


@pytest.mark.parametrize("make", ["script", "trace"])
def test_script_and_trace_give_the_eager_densities(make: str) -> None:
    net = _Cnn().eval()
    batches = _batches()
    scripted = torch.jit.script(net) if make == "script" else torch.jit.trace(net, batches[0])
    eager = actsparse.profile(net, batches, layers=["act"])
    ts = actsparse.profile(scripted, batches)
    names = list(ts.layers)
    assert len(names) == 2  # the ReLU module and the functional F.relu
    conv_act, fc_act = (ts[n] for n in names)
    assert conv_act.units == 4 and fc_act.units == 6
    assert conv_act.samples == eager["act"].samples == 15
    assert conv_act.elements == eager["act"].elements
    assert conv_act.density == eager["act"].density
    torch.testing.assert_close(conv_act.firing_rate(), eager["act"].firing_rate())
    # F.relu has no module to hook: compare with a direct count
    out = torch.cat([net(b) for b in batches])
    torch.testing.assert_close(fc_act.firing_rate(), (out > 0).double().mean(0))
    assert fc_act.density == pytest.approx((out > 0).float().mean().item())
    assert scripted.training is False


def test_layers_argument_on_a_script_module_is_explained() -> None:
    scripted = torch.jit.script(_Cnn().eval())
    with pytest.raises(TypeError, match="TorchScript module.*state_dict"):
        actsparse.profile(scripted, _batches(), layers=["act"])


def test_script_module_without_activation_nodes_is_explained() -> None:
    scripted = torch.jit.script(nn.Linear(4, 3))
    with pytest.raises(ValueError, match="no activation node.*state_dict"):
        actsparse.profile(scripted, [torch.randn(2, 4)])


def test_profiler_context_on_a_script_module_points_to_profile() -> None:
    scripted = torch.jit.script(_Cnn().eval())
    with pytest.raises(TypeError, match=r"actsparse.profile\(scripted"), \
            actsparse.Profiler(scripted):
        scripted(_batches()[0])


class _Gated(nn.Module):
    """An ``if`` on an input picks the branch; a loop holds another activation."""

    def __init__(self) -> None:
        super().__init__()
        self.wide = nn.Linear(4, 6)
        self.narrow = nn.Linear(4, 6)
        self.relu = nn.ReLU()
        self.tanh = nn.Tanh()

    def forward(self, x: torch.Tensor, wide: bool, steps: int = 0) -> torch.Tensor:
        h = self.relu(self.wide(x)) if wide else self.tanh(self.narrow(x))  # a prim::If
        for _ in range(steps):
            h = F.leaky_relu(h)
        return h


def test_activations_inside_if_branches_give_the_eager_statistics() -> None:
    net = _Gated().eval()
    taps = torch.jit.script(net)
    gen = torch.Generator().manual_seed(1)
    calls = [(torch.randn(5, 4, generator=gen), wide) for wide in (True, False, True)]
    with actsparse.Profiler(net, layers=["relu", "tanh"]) as eager, torch.no_grad():
        for x, wide in calls:
            net(x, wide)
    with actsparse.Profiler(taps) as ts, torch.no_grad():
        for x, wide in calls:
            ts.forward(x, wide)
    assert ts.unreached() == ["loop/leaky_relu"]
    assert ts.result.names == ["relu.0", "tanh.1"]
    for t_name, e_name in [("relu.0", "relu"), ("tanh.1", "tanh")]:
        t, e = ts.result[t_name], eager.result[e_name]
        assert t.samples == e.samples and t.units == e.units == 6
        torch.testing.assert_close(t.firing_rate(), e.firing_rate())
        assert t.summary()["max"] == pytest.approx(e.summary()["max"])
    assert ts.result["relu.0"].samples == 10 and ts.result["tanh.1"].samples == 5


def test_a_module_whose_only_activation_sits_in_a_loop_is_explained() -> None:
    class Looped(nn.Module):
        def forward(self, x: torch.Tensor, steps: int) -> torch.Tensor:
            for _ in range(steps):
                x = torch.relu(x)
            return x

    with pytest.raises(ValueError, match="inside loops, which are not reached: loop/relu"):
        actsparse.Profiler(torch.jit.script(Looped()))
