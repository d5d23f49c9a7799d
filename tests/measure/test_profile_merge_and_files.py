"""Merging shards equals measuring their union; save/load round trips; bad files fail clearly."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from torch.testing import assert_close

import actsparse
from actsparse import zoo
from actsparse.measure import Profile, ProfileConfig
from actsparse.measure.profile import SCHEMA_VERSION


def conv_mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 16), nn.GELU(), nn.ReLU()
    )


def data(n: int, seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return list(torch.randn(n, 1, 8, 8, generator=gen).split(64))


def run(batches: list[torch.Tensor], **kwargs: Any) -> Profile:
    return actsparse.profile(conv_mlp(), batches, inputs=True, **kwargs)


def assert_same_state(a: Profile, b: Profile, float_tol: float | None = 1e-9) -> None:
    assert a.names == b.names
    assert a.config == b.config
    for la, lb in zip(a, b, strict=True):
        assert (la.name, la.units, la.spatial, la.on_input) == (
            lb.name,
            lb.units,
            lb.spatial,
            lb.on_input,
        )
        assert la.state.keys() == lb.state.keys()
        for key, x in la.state.items():
            y = lb.state[key]
            assert x.dtype == y.dtype and x.shape == y.shape, key
            if x.is_floating_point() and float_tol is not None:
                assert_close(x, y, rtol=float_tol, atol=float_tol, msg=f"{la.name}.{key}")
            else:
                assert torch.equal(x, y), f"{la.name}.{key}: {x} != {y}"


def _nan_equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_nan_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_nan_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# -- merge -----------------------------------------------------------------------------------
@pytest.mark.parametrize("n_a, n_b", [(64, 64), (128, 192), (64, 320)])
def test_merge_equals_union(n_a: int, n_b: int) -> None:
    a, b = data(n_a, 1), data(n_b, 2)
    merged = run(a).merge(run(b))
    together = run(a + b)
    assert_same_state(merged, together)
    for la, lb in zip(merged, together, strict=True):
        assert la.density == lb.density
        assert la.union_density() == lb.union_density()
        assert la.gini() == pytest.approx(lb.gini(), rel=1e-9)


def test_merge_is_commutative_and_associative() -> None:
    a, b, c = run(data(64, 1)), run(data(64, 2)), run(data(128, 3))
    assert_same_state(a.merge(b), b.merge(a))
    assert_same_state(a.merge(b).merge(c), a.merge(b.merge(c)))


def test_merge_different_layers() -> None:
    a = run(data(64, 1))
    b = actsparse.profile(conv_mlp(), data(64, 2))
    with pytest.raises(ValueError, match="different layers.*'0:input'"):
        a.merge(b)


def test_merge_different_configs() -> None:
    a = run(data(64, 1))
    b = run(data(64, 2), config=ProfileConfig(union_sizes=(1, 4)))
    with pytest.raises(ValueError, match="ProfileConfig.*union_sizes"):
        a.merge(b)
    with pytest.raises(ValueError, match="ProfileConfig.*union_sizes"):
        a["1"].merge(b["1"])


def test_merge_layer_of_other_name() -> None:
    prof = run(data(64, 1))
    with pytest.raises(ValueError, match="cannot merge layer '1'.*'4'"):
        prof["1"].merge(prof["4"])
    with pytest.raises(TypeError, match="merge a Profile"):
        prof.merge(prof["1"])  # type: ignore[arg-type]


# -- save / load -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def prof() -> Profile:
    return run(data(128, 5))


@pytest.mark.parametrize("where", ["folder", "nested/folder", "p.safetensors", "sub/p.safetensors"])
def test_round_trip(prof: Profile, tmp_path: Path, where: str) -> None:
    written = prof.save(tmp_path / where)
    assert written.exists() and written.suffix == ".safetensors"
    back = Profile.load(tmp_path / where)
    assert_same_state(back, prof, float_tol=None)  # bit-exact
    assert back.meta == prof.meta
    assert _nan_equal(back.to_dict(), prof.to_dict())
    assert back.to_dict() == prof.to_dict()
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [written.name]  # no temp files


def test_to_dict_is_json(prof: Profile) -> None:
    d = prof.to_dict()
    text = json.dumps(d, allow_nan=False)  # strict JSON: NaN/inf become null
    assert json.loads(text) == d
    assert d["format"] == "actsparse.profile" and d["schema_version"] == SCHEMA_VERSION
    required = {
        "name",
        "units",
        "samples",
        "density",
        "near_zero",
        "hoyer",
        "gini",
        "dead_units",
        "union_density",
    }
    for entry in d["layers"]:
        assert required <= entry.keys()
    assert [e["name"] for e in d["layers"]] == prof.names


def test_to_dict_with_nan_is_strict_json() -> None:
    # 8 samples: there is no group of 64, so the B=64 union density is not defined
    p = actsparse.profile(nn.Sequential(nn.ReLU()), [torch.randn(8, 4)])
    assert math.isnan(p["0"].union_density()[64])
    entry = p.to_dict()["layers"][0]
    assert entry["union_density"]["64"] is None
    json.dumps(p.to_dict(), allow_nan=False)


def test_load_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no profile at"):
        Profile.load(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="no profile at"):
        Profile.load(tmp_path / "nothing.safetensors")


@pytest.mark.parametrize("damage", ["truncated", "random", "empty", "header_only"])
def test_load_corrupt(prof: Profile, tmp_path: Path, damage: str) -> None:
    path = prof.save(tmp_path / "p.safetensors")
    raw = path.read_bytes()
    corrupt = {
        "truncated": raw[: len(raw) // 2],
        "random": bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8).tolist()),
        "empty": b"",
        "header_only": raw[:8],
    }[damage]
    path.write_bytes(corrupt)
    with pytest.raises(ValueError, match="p.safetensors is not a readable safetensors file"):
        Profile.load(path)


def test_load_foreign_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    save_file({"weight": torch.zeros(3)}, str(path))
    with pytest.raises(ValueError, match="weights.safetensors is a safetensors file but not"):
        Profile.load(path)
    save_file({"weight": torch.zeros(3)}, str(path), metadata={"format": "pt"})
    with pytest.raises(ValueError, match="not an actsparse profile"):
        Profile.load(path)


def _resave(path: Path, **metadata_changes: str) -> None:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
    tensors = load_file(str(path))
    metadata.update(metadata_changes)
    save_file(tensors, str(path), metadata=metadata)


def test_load_newer_schema(prof: Profile, tmp_path: Path) -> None:
    path = prof.save(tmp_path / "p.safetensors")
    _resave(path, schema_version=str(SCHEMA_VERSION + 1))
    with pytest.raises(ValueError, match=f"schema {SCHEMA_VERSION + 1}.*upgrade actsparse"):
        Profile.load(path)


def test_load_damaged_metadata(prof: Profile, tmp_path: Path) -> None:
    path = prof.save(tmp_path / "p.safetensors")
    _resave(path, layers="[not json")
    with pytest.raises(ValueError, match="actsparse profile but is damaged"):
        Profile.load(path)


def test_load_missing_tensor(prof: Profile, tmp_path: Path) -> None:
    path = prof.save(tmp_path / "p.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
    tensors = load_file(str(path))
    del tensors["0.hist"]
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(ValueError, match="damaged.*0.hist"):
        Profile.load(path)


def test_loaded_profile_merges_with_fresh(prof: Profile, tmp_path: Path) -> None:
    back = Profile.load(prof.save(tmp_path))
    assert_same_state(back.merge(prof), prof.merge(prof))


# -- issue 15.4: edited files, merging other models' profiles --------------------------------
def _mnist_profile(limit: int = 200) -> tuple[Any, actsparse.Profile]:
    zm = zoo.load_model("mnist-cnn")
    data = zoo.load_data("mnist", split="test", limit=limit)
    return zm, actsparse.profile(zm.module, zm.batches(data, batch_size=100))


@pytest.mark.parametrize(
    ("key", "edit", "message"),
    [
        ("samples", lambda t: t * 0 - 7, r"samples is negative \(-7\)"),
        ("active", lambda t: t * 0 + 10**12, r"active \(\d+\) exceeds count"),
        ("nan", lambda t: t + 10**12, r"nan \(\d+\) exceeds count"),
        ("unit_active", lambda t: t * 2, "the units' active counts add up to"),
        ("hist", lambda t: t.flip(0) * 3, "the histogram holds"),
        ("sample_density_hist", lambda t: t * 0, "the per-sample density histogram holds 0"),
        ("abs_sum", lambda t: t * 0 - 1, "abs_sum must be finite and >= 0"),
    ],
)
def test_load_refuses_edited_values(tmp_path: Path, key: str, edit: Any, message: str) -> None:
    _, prof = _mnist_profile()
    path = prof.save(tmp_path)
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(path))
    tensors[f"0.{key}"] = edit(tensors[f"0.{key}"])
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(ValueError, match=rf"damaged or was edited: layer 'features.1': {message}"):
        actsparse.Profile.load(path)


def test_saved_profile_of_a_real_model_loads_back(tmp_path: Path) -> None:
    _, prof = _mnist_profile()
    back = actsparse.Profile.load(prof.save(tmp_path))
    assert back.names == prof.names and back.meta["model_fingerprint"] == prof.meta[
        "model_fingerprint"]


def test_merge_sums_batches_and_refuses_another_model() -> None:
    zm, a = _mnist_profile()
    _, b = _mnist_profile(100)
    both = a.merge(b)
    assert both.meta["batches"] == a.meta["batches"] + b.meta["batches"] == 3
    assert both["features.1"].samples == 300
    other = copy.deepcopy(zm.module)
    with torch.no_grad():
        other.features[0].weight.mul_(1.5)
    c = actsparse.profile(other, zm.batches(zoo.load_data("mnist", split="test", limit=100)))
    with pytest.raises(ValueError, match="cannot merge profiles of different models: "
                                         "model_fingerprint"):
        a.merge(c)
