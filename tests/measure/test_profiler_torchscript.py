"""TorchScript modules: profiling them says exactly why it cannot and what to do instead."""

import pytest
import torch
from torch import nn

import actsparse


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU()).eval()


@pytest.mark.parametrize("make", ["script", "trace"])
def test_profile_of_a_script_module_names_the_eager_route(make: str) -> None:
    net = _net()
    x = torch.randn(3, 4)
    scripted = torch.jit.script(net) if make == "script" else torch.jit.trace(net, x)
    for kwargs in ({}, {"inputs": True}, {"layers": ["1"]}):
        with pytest.raises(TypeError, match="TorchScript module.*state_dict"):
            actsparse.profile(scripted, [x], **kwargs)
    # the advice works: the eager model with the scripted weights profiles fine
    eager = _net()
    eager.load_state_dict(scripted.state_dict())
    assert actsparse.profile(eager, [x])["1"].samples == 3
