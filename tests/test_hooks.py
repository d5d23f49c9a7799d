"""Choosing layers, unwrapping outputs, and hooks that are always removed."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import Tensor, nn
from torch.testing import assert_close

from actsparse._hooks import first_tensor, hooked, is_activation, register_activation, select_layers


def _mlp() -> nn.Sequential:
    return nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(4, 8),
            act1=nn.ReLU(),
            block=nn.Sequential(OrderedDict(fc=nn.Linear(8, 8), act=nn.GELU())),
            fc2=nn.Linear(8, 2),
        )
    )


def _names(targets: list) -> list[str]:
    return [t.name for t in targets]


@pytest.mark.parametrize(
    "layers, expected",
    [
        (None, ["act1", "block.act"]),
        ("act1", ["act1"]),
        (["block.act"], ["block.act"]),
        ("block.*", ["block.fc", "block.act"]),
        ("*act*", ["act1", "block.act"]),
        (nn.GELU, ["block.act"]),
        (nn.Linear, ["fc1", "block.fc", "fc2"]),
        ("fc2:input", ["fc2:input"]),
        ("fc*:input", ["fc1:input", "fc2:input"]),
        (["fc2:input", nn.ReLU], ["act1", "fc2:input"]),
    ],
)
def test_select_layers(layers: object, expected: list[str]) -> None:
    assert _names(select_layers(_mlp(), layers)) == expected  # type: ignore[arg-type]


def test_inputs_true_adds_linear_and_conv_inputs() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    targets = select_layers(net, inputs=True)
    assert _names(targets) == ["0:input", "1", "3:input"]
    assert [t.on_input for t in targets] == [True, False, True]


def test_no_match_lists_module_names() -> None:
    with pytest.raises(ValueError, match="'nope'.*matches no module.*fc1, act1, block"):
        select_layers(_mlp(), "nope")


def test_no_activation_modules() -> None:
    with pytest.raises(ValueError, match="no activation modules"):
        select_layers(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)))


@pytest.mark.parametrize("model", [None, "net", torch.zeros(2)])
def test_not_a_module(model: object) -> None:
    with pytest.raises(TypeError, match="torch.nn.Module"):
        select_layers(model)  # type: ignore[arg-type]


def test_bad_layer_spec_type() -> None:
    with pytest.raises(TypeError, match="a layer is a name"):
        select_layers(_mlp(), [3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="not an nn.Module subclass"):
        select_layers(_mlp(), int)


def test_register_activation_is_found_by_default() -> None:
    @register_activation
    class Square(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return x * x

    net = nn.Sequential(nn.Linear(2, 2), Square())
    assert is_activation(net[1])
    assert _names(select_layers(net)) == ["1"]


@pytest.mark.parametrize(
    "value",
    [
        torch.ones(2),
        (torch.ones(2), torch.zeros(3)),
        [None, torch.ones(2)],
        {"logits": torch.ones(2), "hidden": torch.zeros(3)},
        ((None,), {"a": torch.ones(2)}),
    ],
)
def test_first_tensor(value: object) -> None:
    assert_close(first_tensor(value), torch.ones(2))


def test_first_tensor_none() -> None:
    assert first_tensor((None, 3, "x")) is None


def _hook_counts(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_hooked_sees_outputs_inputs_and_repeats() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.act = nn.ReLU()

        def forward(self, x: Tensor) -> Tensor:
            return self.act(self.fc(self.act(x)))

    net = Twice()
    seen: list[tuple[str, Tensor]] = []
    x = torch.randn(3, 4)
    with hooked(net, select_layers(net, ["act", "fc:input"]), lambda n, t: seen.append((n, t))):
        for _ in range(2):  # the '#1' numbering restarts at every forward of the model
            net(x)
    assert [n for n, _ in seen] == ["act", "fc:input", "act#1"] * 2
    assert_close(seen[1][1], x.relu())  # the pre-hook sees the Linear's input
    assert _hook_counts(net) == 0


def test_hooks_removed_when_forward_raises() -> None:
    class Boom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 2)
            self.act = nn.ReLU()

        def forward(self, x: Tensor) -> Tensor:
            self.act(self.fc(x))
            raise RuntimeError("boom")

    net = Boom()
    with (
        pytest.raises(RuntimeError, match="boom"),
        hooked(net, select_layers(net, ["act", "fc:input"]), lambda n, t: None),
    ):
        assert _hook_counts(net) > 0
        net(torch.zeros(1, 2))
    assert _hook_counts(net) == 0
