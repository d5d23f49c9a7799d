"""Small models and profiles shared by the report tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import actsparse
from actsparse.measure.profile import Profile


class ConvNet(nn.Module):
    """Two conv layers and a linear layer, each followed by a ReLU: 3 layers, 2 of them conv."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(6, 8, 3, stride=2, padding=1)
        self.act2 = nn.ReLU()
        self.flat = nn.Flatten()
        self.fc = nn.Linear(8 * 8 * 8, 16)
        self.act3 = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 1, 16, 16)
        x = self.act1(self.conv1(x))  # (N, 6, 16, 16)
        x = self.act2(self.conv2(x))  # (N, 8, 8, 8)
        return self.act3(self.fc(self.flat(x)))  # (N, 16)


@pytest.fixture
def conv_net() -> ConvNet:
    torch.manual_seed(0)
    return ConvNet()


@pytest.fixture
def conv_profile(conv_net: ConvNet) -> Profile:
    torch.manual_seed(1)
    return actsparse.profile(conv_net, [torch.randn(16, 1, 16, 16) for _ in range(2)])
