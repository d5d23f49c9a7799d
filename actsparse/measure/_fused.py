"""The fused statistics kernel (``_stats_kernel.c``) behind :func:`update_state`, via ctypes.

One pass over the activations instead of the reference's ~14 torch passes; the same state
(integers exactly, float sums up to rounding). :func:`fused_update` returns ``False`` whenever
it cannot handle a call, and the caller then runs :func:`update_reference`.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch
from torch import Tensor

from actsparse._native import load_library
from actsparse.measure.config import ProfileConfig
from actsparse.measure.state import REDUCTIONS, _to_shape, as_samples_units_positions

_SOURCE = Path(__file__).with_name("_stats_kernel.c")
_ORDER = tuple(REDUCTIONS)  # the kernel's `out` pointers, in this order
_P, _I32, _I64 = ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64
_ARGTYPES = [_P, _I64, _I64, _I64, _P, _I64, _P, _P, _I32, _I32, _I32, ctypes.c_float,
             _P, _I64, _I64, _I32, _P]
_TABLES: dict[bytes, tuple[Tensor, Tensor, int, bool]] = {}


def stats_kernel() -> ctypes.CDLL | None:
    """The compiled kernel library, or ``None`` when native code is off or cannot be built.

    Example:
        >>> lib = stats_kernel()
        >>> lib is None or hasattr(lib, "actsparse_update_stats")
        True
    """
    return load_library("stats_kernel", _SOURCE,
                        {"actsparse_update_stats": (_ARGTYPES, ctypes.c_int)})


def fused_update(state: dict[str, Tensor], x: Tensor, config: ProfileConfig, edges: Tensor) -> bool:
    """Add ``x`` to ``state`` like :func:`update_reference`; ``False`` if it did nothing.

    Example:
        >>> from actsparse.measure.state import new_state
        >>> cfg = ProfileConfig()
        >>> state = new_state(cfg, 3, ())
        >>> done = fused_update(state, torch.tensor([[0.0, 1.0, 2.0]]), cfg, cfg.edges())
        >>> not done or (int(state["active"]), int(state["count"])) == (2, 3)
        True
    """
    lib = stats_kernel()
    if lib is None or x.device.type != "cpu" or x.numel() == 0 or edges.dtype != torch.float32:
        return False
    xs, _ = as_samples_units_positions(x.detach().float())
    n, units, positions = xs.shape
    stored = state["spatial_active"]
    if not _fits(state, units, len(edges), config):
        return False  # let the reference raise its own error
    spatial: Tensor | None = None
    if stored.numel() > 0:
        if tuple(stored.shape) == tuple(x.shape[2:]):
            spatial = stored
        elif x.dim() >= 4:  # another input size: count here, resample below (as the reference)
            spatial = torch.zeros(positions, dtype=torch.int64)
        else:
            return False
    xs = xs.contiguous()
    lo, thr, shift, simple = _bin_table(edges)
    edges = edges.contiguous()
    unions = torch.tensor(config.union_sizes, dtype=torch.int64)
    out = (ctypes.c_void_p * len(_ORDER))(*[
        (spatial.data_ptr() if spatial is not None else None) if key == "spatial_active"
        else state[key].data_ptr() for key in _ORDER
    ])
    status = lib.actsparse_update_stats(
        xs.data_ptr(), n, units, positions, edges.data_ptr(), len(edges), lo.data_ptr(),
        thr.data_ptr(), shift, int(simple), int(config.active_threshold > 0),
        config.active_threshold, unions.data_ptr(), len(unions), config.sample_bins,
        torch.get_num_threads(), out,
    )
    if status != 0:
        if status < 0:
            raise MemoryError("the fused statistics kernel could not allocate its buffers")
        return False  # e.g. an infinite activation: the reference decides what happens
    if spatial is not None and spatial is not stored:
        counts = spatial.double().reshape(x.shape[2:])
        state["spatial_active"] += _to_shape(counts, stored.shape)
    return True


def _fits(state: dict[str, Tensor], units: int, n_edges: int, config: ProfileConfig) -> bool:
    """Whether every state tensor has the dtype, size and layout that the kernel writes."""
    n_union = len(config.union_sizes)
    sizes = {"hist": n_edges + 1, "sample_density_hist": config.sample_bins,
             "sample_hoyer_hist": config.sample_bins, "unit_active": units,
             "union_active": n_union, "union_slots": n_union, "spatial_active": -1}
    for key in _ORDER:
        t = state.get(key)
        if t is None or t.device.type != "cpu" or not t.is_contiguous():
            return False
        int_typed = key in sizes or key in ("count", "samples", "active", "nan", "inf")
        if t.dtype != (torch.int64 if int_typed else torch.float64):
            return False
        size = sizes.get(key, 0)  # 0: a scalar, -1: any shape
        if size == 0 and t.dim() != 0 or size > 0 and tuple(t.shape) != (size,):
            return False
    return n_union <= 64


def _bin_table(edges: Tensor) -> tuple[Tensor, Tensor, int, bool]:
    """Lookup table from the top bits of ``|x|`` to its histogram bin, built with bucketize.

    For key ``k`` (the bits of a non-negative float32 shifted right by ``shift``), ``lo[k]`` is
    the number of edges <= the smallest float with that key. When no key spans more than one
    edge (``simple``), the bin is ``lo[k] + (|x| >= thr[k])``, exact at every edge; otherwise the
    kernel walks the edges from ``lo[k]``. NaN keys get ``lo = len(edges)`` and a NaN ``thr``.
    """
    key = edges.numpy().tobytes()
    if key in _TABLES:
        return _TABLES[key]
    inf_bits = 0x7F800000
    for shift in range(20, 11, -1):  # the coarsest table where no key holds two edges
        keys = torch.arange(1 << (31 - shift), dtype=torch.int64)
        low = _as_float((keys << shift).clamp_max(inf_bits))
        high = _as_float(((keys + 1) << shift).sub(1).clamp_max(inf_bits))
        lo = torch.bucketize(low, edges, right=True)
        hi = torch.bucketize(high, edges, right=True)
        simple = bool((hi - lo).max() <= 1)
        if simple:
            break
    padded = torch.cat([edges, edges.new_full((1,), float("nan"))])
    thr = torch.where(hi > lo, padded[lo], float("nan"))
    table = (lo.to(torch.int32).contiguous(), thr.contiguous(), shift, simple)
    if len(_TABLES) > 16:
        _TABLES.clear()
    _TABLES[key] = table
    return table


def _as_float(bits: Tensor) -> Tensor:
    return bits.to(torch.int32).view(torch.float32)
