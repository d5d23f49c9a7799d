"""Shared by the plan-kernel tests: the thread settings every case runs under, and the check of
a compiled plan against the dense PyTorch module it came from."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from actsparse.exploit import plan_program
from actsparse.exploit.plan import build_plan
from actsparse.exploit.plan_program import plan_kernel

needs_kernel = pytest.mark.skipif(plan_kernel() is None, reason="no C compiler for the kernel")


@pytest.fixture(autouse=True, params=[1, 2])
def threads(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """One thread, and two on every call (sharing a sample at batch 1, splitting a batch)."""
    monkeypatch.setattr(plan_program, "ALWAYS_SHARE", True)
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


def check_plan(model: nn.Module, x: torch.Tensor, want_in_plan: str = "") -> None:
    """The plan built for ``model`` gives its outputs, on contiguous and channels-last input."""
    model.eval()
    fused, why = build_plan(model, (x,), {})
    assert fused is not None, why
    assert want_in_plan in why
    with torch.no_grad():
        want = model(x)
        torch.testing.assert_close(fused(x), want, rtol=1e-4, atol=1e-4)
        if x.dim() == 4:
            cl = x.contiguous(memory_format=torch.channels_last)
            torch.testing.assert_close(fused(cl), want, rtol=1e-4, atol=1e-4)
