"""Whether a forward is being traced, so that layers call their custom operators, not ctypes.

The sparse kernels run through ctypes in eager mode (the cheapest call). A ctypes call reads
raw data pointers, which ``torch.compile``, ``torch.export``, ``torch.jit.trace`` and fake or
functional tensors do not have; there the layers call the ``torch.ops.actsparse`` operators
(:mod:`actsparse.exploit.ops`), which those tools trace as one opaque node.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["tracing"]


def tracing(input: Tensor) -> bool:
    """True under ``torch.compile`` / ``torch.export`` / ``torch.jit.trace``, or when ``input``
    is a tensor subclass (fake, functional, a parameter): call the operator, not ctypes.

    Example:
        >>> tracing(torch.zeros(2))
        False
        >>> from torch._subclasses.fake_tensor import FakeTensorMode
        >>> with FakeTensorMode() as mode:
        ...     tracing(torch.zeros(2))
        True
    """
    return (torch.compiler.is_compiling() or torch.jit.is_tracing()
            or type(input) is not Tensor)
