"""The fused C statistics kernel against the torch reference, and the fallbacks around it."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actsparse import _native
from actsparse.measure import _fused
from actsparse.measure.config import ProfileConfig
from actsparse.measure.state import as_samples_units_positions, new_state, update_reference
from actsparse.measure.update import update_state

INT_KEYS = ("count", "samples", "active", "nan", "inf", "hist", "sample_density_hist",
            "sample_hoyer_hist", "unit_active", "spatial_active", "union_active", "union_slots")
FLOAT_KEYS = ("sum", "abs_sum", "sq_sum", "min", "max", "hoyer_sum", "treves_rolls_sum")
HAS_CC = shutil.which(os.environ.get("CC", "cc")) is not None
needs_kernel = pytest.mark.skipif(not HAS_CC, reason="no C compiler: the fused kernel is not built")


@pytest.fixture(autouse=True)
def _fresh_native(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("ACTSPARSE_NO_NATIVE", raising=False)
    _native.clear_cache()
    yield
    _native.clear_cache()


def _state_for(x: torch.Tensor, config: ProfileConfig) -> dict[str, torch.Tensor]:
    xs, spatial = as_samples_units_positions(x)
    return new_state(config, xs.shape[1], spatial)


def _assert_same(ref: dict[str, torch.Tensor], got: dict[str, torch.Tensor]) -> None:
    for key in INT_KEYS:
        assert torch.equal(ref[key], got[key]), f"{key}: {ref[key]} vs {got[key]}"
    for key in FLOAT_KEYS:
        torch.testing.assert_close(got[key], ref[key], rtol=1e-6, atol=1e-9, equal_nan=True,
                                   msg=lambda m, k=key: f"{k}: {m}")


def _compare(xs: list[torch.Tensor], config: ProfileConfig) -> None:
    """Fold the same batches with both paths; both must agree, or both raise the same error."""
    edges = config.edges()
    ref, got = _state_for(xs[0], config), _state_for(xs[0], config)
    for x in xs:
        try:
            update_reference(ref, x, config, edges)
        except RuntimeError as err:  # e.g. an infinite activation: the kernel defers to torch
            with pytest.raises(RuntimeError, match=str(err)[:40]):
                update_state(got, x, config, edges)
            assert not _fused.fused_update(_state_for(x, config), x, config, edges)
            return
        assert _fused.fused_update(got, x, config, edges), "the kernel declined a valid input"
    _assert_same(ref, got)


@st.composite
def activations(draw: st.DrawFn) -> tuple[list[torch.Tensor], ProfileConfig]:
    kind = draw(st.sampled_from(["2d", "3d", "4d", "5d"]))
    n = draw(st.integers(1, 70))
    units = draw(st.integers(1, 12))
    if kind == "2d":
        shape: tuple[int, ...] = (n, units)
    elif kind == "3d":
        shape = (draw(st.integers(1, 9)), draw(st.integers(1, 9)), units)
    elif kind == "4d":
        shape = (n, units, draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    else:
        shape = (min(n, 9), units, 2, draw(st.integers(1, 3)), 3)
    config = ProfileConfig(
        union_sizes=draw(st.sampled_from([(1, 8, 64), (1,), (2, 3), (5, 1, 100), (4, 8, 12, 4)])),
        active_threshold=draw(st.sampled_from([0.0, 0.0, 1e-2, 0.3, 1e-30])),
        sample_bins=draw(st.sampled_from([50, 1, 7])),
    )
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    edges = config.edges()
    batches = []
    for _ in range(draw(st.integers(1, 2))):
        shift = draw(st.floats(-3.0, 3.0))
        scale = draw(st.sampled_from([1.0, 1e-6, 1e3, 1e-40]))
        x = torch.relu(torch.randn(shape, generator=gen) + shift) * scale
        if draw(st.booleans()):  # signed values as well
            x = x - torch.relu(torch.randn(shape, generator=gen) + shift) * scale
        flat = x.view(-1)
        k = flat.numel()
        for how in draw(st.lists(st.sampled_from(["zero", "edge", "negzero", "nan", "inf"]),
                                 max_size=3)):
            idx = torch.randint(0, k, (max(1, k // 5),), generator=gen)
            if how == "zero":
                flat[idx] = 0.0
            elif how == "negzero":
                flat[idx] = -0.0
            elif how == "edge":  # exactly at histogram edges, either sign
                e = edges[torch.randint(0, len(edges), idx.shape, generator=gen)]
                sign = torch.randint(0, 2, idx.shape, generator=gen) * 2 - 1
                flat[idx] = e * sign
            elif how == "nan":
                flat[idx[:2]] = float("nan")
            else:
                flat[idx[:1]] = float("inf") if draw(st.booleans()) else float("-inf")
        dtype = draw(st.sampled_from([torch.float32, torch.float32, torch.float64, torch.bfloat16]))
        x = x.to(dtype)
        if draw(st.booleans()) and x.dim() >= 2:  # non-contiguous, same shape
            x = x.transpose(0, 1).contiguous().transpose(0, 1)
        batches.append(x)
    return batches, config


@needs_kernel
def test_kernel_builds() -> None:
    assert _fused.stats_kernel() is not None


@needs_kernel
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(activations())
def test_fused_matches_reference(case: tuple[list[torch.Tensor], ProfileConfig]) -> None:
    xs, config = case
    _compare(xs, config)


@needs_kernel
@pytest.mark.parametrize("shape", [(256, 64, 14, 14), (32, 128, 384), (256, 128), (3, 1)])
@pytest.mark.parametrize("shift", [-2.0, 0.0, 1.5])
def test_fused_matches_reference_at_model_sizes(shape: tuple[int, ...], shift: float) -> None:
    gen = torch.Generator().manual_seed(0)
    _compare([torch.relu(torch.randn(shape, generator=gen) + shift)], ProfileConfig())


@needs_kernel
@pytest.mark.parametrize("value", [0.0, -0.0, 1.0, float("nan")])
def test_constant_inputs(value: float) -> None:
    _compare([torch.full((70, 5, 3, 3), value)], ProfileConfig())


@needs_kernel
def test_infinite_activations() -> None:
    x = torch.ones(4, 6)
    x[1, 2], x[2, 0], x[3, 5] = float("inf"), float("-inf"), float("nan")
    _compare([x], ProfileConfig())
    _compare([torch.tensor([[float("inf")], [2.0]])], ProfileConfig())
    _compare([torch.tensor([[3e38, 2e19, 1.0]])], ProfileConfig())  # squares overflow float32


@needs_kernel
def test_every_edge_and_its_neighbours() -> None:
    edges = ProfileConfig().edges()
    up = torch.nextafter(edges, torch.tensor(float("inf")))
    down = torch.nextafter(edges, torch.tensor(0.0))
    x = torch.cat([edges, up, down, -edges, torch.tensor([0.0, float("inf"), 3.0e38])])
    _compare([x.reshape(1, -1)], ProfileConfig())
    _compare([x.reshape(-1, 1)], ProfileConfig())


@needs_kernel
def test_dense_edges_use_the_general_bin_search() -> None:
    config = ProfileConfig(near_zero=(0.5,), min_decade=-1, max_decade=0, bins_per_decade=6000)
    assert not _fused._bin_table(config.edges())[3]
    gen = torch.Generator().manual_seed(1)
    edges = config.edges()
    x = torch.cat([edges, torch.rand(5000, generator=gen), torch.rand(100, generator=gen) * 1e-3])
    _compare([x.reshape(2, -1)], config)


@needs_kernel
def test_union_sizes_larger_than_the_batch() -> None:
    config = ProfileConfig(union_sizes=(1, 64, 1000))
    gen = torch.Generator().manual_seed(2)
    _compare([torch.relu(torch.randn(10, 7, generator=gen)),
              torch.relu(torch.randn(64, 7, generator=gen))], config)


@needs_kernel
def test_spatial_shape_change_is_resampled_like_the_reference() -> None:
    config, edges = ProfileConfig(), ProfileConfig().edges()
    gen = torch.Generator().manual_seed(3)
    a = torch.relu(torch.randn(3, 4, 6, 6, generator=gen))
    b = torch.relu(torch.randn(2, 4, 9, 9, generator=gen))
    ref, got = _state_for(a, config), _state_for(a, config)
    for x in (a, b):
        update_reference(ref, x, config, edges)
        assert _fused.fused_update(got, x, config, edges)
    _assert_same(ref, got)


@needs_kernel
def test_result_does_not_depend_on_threads() -> None:
    x = torch.relu(torch.randn(128, 16, 12, 12, generator=torch.Generator().manual_seed(4)))
    config, edges = ProfileConfig(), ProfileConfig().edges()
    states = []
    before = torch.get_num_threads()
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            state = _state_for(x, config)
            assert _fused.fused_update(state, x, config, edges)
            states.append(state)
    finally:
        torch.set_num_threads(before)
    for state in states[1:]:
        for key in INT_KEYS + FLOAT_KEYS:
            assert torch.equal(state[key], states[0][key]), key


def test_no_native_env_uses_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTSPARSE_NO_NATIVE", "1")
    assert _fused.stats_kernel() is None
    x = torch.relu(torch.randn(8, 3, 4, 4))
    config, edges = ProfileConfig(), ProfileConfig().edges()
    assert not _fused.fused_update(_state_for(x, config), x, config, edges)
    ref, got = _state_for(x, config), _state_for(x, config)
    update_reference(ref, x, config, edges)
    update_state(got, x, config, edges)
    for key in INT_KEYS + FLOAT_KEYS:
        assert torch.equal(ref[key], got[key]), key


def test_missing_compiler_falls_back_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("ACTSPARSE_CACHE_DIR", str(tmp_path / "cache"))
    x = torch.relu(torch.randn(8, 5))
    config, edges = ProfileConfig(), ProfileConfig().edges()
    ref, got = _state_for(x, config), _state_for(x, config)
    with caplog.at_level(logging.WARNING, logger="actsparse"):
        for _ in range(3):
            assert _fused.stats_kernel() is None
        update_state(got, x, config, edges)
    update_reference(ref, x, config, edges)
    warnings = [r for r in caplog.records if "native kernel" in r.getMessage()]
    assert len(warnings) == 1 and "no C compiler" in warnings[0].getMessage()
    for key in INT_KEYS + FLOAT_KEYS:
        assert torch.equal(ref[key], got[key]), key


@needs_kernel
def test_build_failure_returns_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ACTSPARSE_CACHE_DIR", str(tmp_path))
    bad = tmp_path / "bad.c"
    bad.write_text("int broken( {")
    with caplog.at_level(logging.WARNING, logger="actsparse"):
        assert _native.load_library("bad", bad) is None
    assert "failed" in caplog.text
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob("*.so"))


@needs_kernel
def test_library_is_cached_on_disk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ACTSPARSE_CACHE_DIR", str(tmp_path))
    src = tmp_path / "one.c"
    src.write_text("int one(void) { return 1; }\n")
    lib = _native.load_library("one", src)
    assert lib is not None and lib.one() == 1
    built = list(tmp_path.glob("one-*.so"))
    assert len(built) == 1
    _native.clear_cache()

    def no_compiling(*args: object, **kwargs: object) -> None:
        raise AssertionError("recompiled although the library is cached")

    monkeypatch.setattr(_native, "_build", no_compiling)
    lib = _native.load_library("one", src)
    assert lib is not None and lib.one() == 1
    src.write_text("int one(void) { return 2; }\n")  # a new source: a new key, a new build
    monkeypatch.undo()
    monkeypatch.setenv("ACTSPARSE_CACHE_DIR", str(tmp_path))
    _native.clear_cache()
    lib = _native.load_library("one", src)
    assert lib is not None and lib.one() == 2
    assert len(list(tmp_path.glob("one-*.so"))) == 2
