"""iter_calls: every batch form as a model call, with errors that name the batch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from actsparse.measure.batches import iter_calls


def test_each_form_becomes_a_call() -> None:
    net = nn.Linear(3, 2)
    mask = torch.tensor([[1, 1, 0]])
    batches = [torch.zeros(4, 3), (torch.zeros(2, 3), torch.ones(2)),
               {"input_ids": torch.zeros(1, 3, dtype=torch.long), "attention_mask": mask}]
    calls = list(iter_calls(net, batches))
    assert [c.size for c in calls] == [4, 2, 1]
    assert [len(c.args) for c in calls] == [1, 1, 0]
    assert calls[2].mask is mask and calls[0].mask is None
    assert list(iter_calls(net, [(torch.ones(5), torch.zeros(5, 3))], input_key=1))[0].size == 5


def test_an_error_names_the_batch() -> None:
    calls = iter_calls(nn.Linear(3, 2), [torch.zeros(1, 3), (torch.zeros(1, 3),)], input_key=1)
    next(calls)
    with pytest.raises(ValueError, match="batch 1 has no element 1"):
        next(calls)
    with pytest.raises(TypeError, match="batch 0 is a str"):
        next(iter_calls(nn.Linear(3, 2), ["text"]))


def test_a_model_without_parameters_keeps_the_device() -> None:
    x = torch.zeros(2, 3)
    (call,) = iter_calls(nn.ReLU(), [x])
    assert call.args[0] is x and call.size == 2
