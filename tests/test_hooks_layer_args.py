"""Wrong ``layers=`` arguments get messages that say what to pass."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import actsparse


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 3), nn.ReLU())


def test_layers_an_int_is_a_clear_type_error() -> None:
    with pytest.raises(TypeError, match="layers must be None, a name"):
        actsparse.profile(_net(), [torch.zeros(1, 2)], layers=123)  # type: ignore[arg-type]


def test_layers_empty_list_says_pass_none() -> None:
    with pytest.raises(ValueError, match=r"layers=\[\] selects no layers"):
        actsparse.profile(_net(), [torch.zeros(1, 2)], layers=[])
