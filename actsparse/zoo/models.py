"""One entry point for models: a zoo name, a model file, a folder, a hub name, or a module."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch import nn

from actsparse.zoo import pretrained
from actsparse.zoo.errors import UnknownNameError, ZooError
from actsparse.zoo.hf import HubLoadError, load_hf
from actsparse.zoo.user import MODEL_SUFFIXES, load_module_file, wrap_module
from actsparse.zoo.zoo_model import ZooModel

MODELS: dict[str, Callable[[], ZooModel]] = {
    "mnist-cnn": pretrained.mnist_cnn,
    "mobilenetv2": pretrained.mobilenetv2,
    "minilm": pretrained.minilm,
    "smollm2": pretrained.smollm2,
    "silero-vad": pretrained.silero_vad,
}


# Loaders of folders that are not Hugging Face models, tried in order; each returns a ZooModel
# or None. The training application registers its run folders (actsparse.train.run_folder).
FOLDER_LOADERS: list[Callable[[Path], ZooModel | None]] = []
RUN_FOLDER_FILE = "checkpoint.safetensors"  # what `actsparse train --out DIR` writes


def register_folder_loader(loader: Callable[[Path], ZooModel | None]) -> None:
    """Let :func:`load_model` take folders that ``loader`` recognises (it returns None for
    the others); registering the same loader again changes nothing.

    Example:
        >>> register_folder_loader(lambda path: None)
        >>> len(FOLDER_LOADERS) >= 1
        True
    """
    if loader not in FOLDER_LOADERS:
        FOLDER_LOADERS.append(loader)


def available_models() -> list[str]:
    """The zoo's model names.

    Example:
        >>> available_models()
        ['mnist-cnn', 'mobilenetv2', 'minilm', 'smollm2', 'silero-vad']
    """
    return list(MODELS)


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.lower().endswith(MODEL_SUFFIXES)


def load_model(name_or_path: str | Path | nn.Module) -> ZooModel:
    """Load a model by zoo name, file, folder or Hugging Face name; or wrap a module.

    Resolution, in order:

    1. an ``nn.Module``: wrapped as is (its batches are the images unchanged);
    2. a zoo name (:func:`available_models`);
    3. an existing file: TorchScript or a pickled ``nn.Module`` (this runs
       ``torch.load(weights_only=False)``: only for files you trust; see
       :func:`~actsparse.zoo.user.load_module_file`);
    4. an existing folder: a run folder of ``actsparse train --out DIR`` (it holds
       ``checkpoint.safetensors``; ``actsparse.train`` registers that loader, and
       ``import actsparse`` imports it) or another registered folder kind
       (:func:`register_folder_loader`), else Hugging Face ``from_pretrained``;
    5. any other name: a Hugging Face hub name, taken from the local cache when
       ``HF_HUB_OFFLINE=1``. A name that cannot be loaded raises :class:`UnknownNameError`
       listing the zoo names.

    Example:
        >>> zm = load_model("mnist-cnn")
        >>> zm.kind, zm.module.training
        ('image', False)
        >>> load_model("no-such-model")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        actsparse.zoo.errors.UnknownNameError: unknown model 'no-such-model'; known models: ...
    """
    if isinstance(name_or_path, nn.Module):
        return wrap_module(name_or_path)
    name = str(name_or_path)
    if name in MODELS:
        return MODELS[name]()
    path = Path(name).expanduser()
    if path.is_file():
        return wrap_module(load_module_file(path), str(path))
    if path.is_dir():
        for loader in FOLDER_LOADERS:
            found = loader(path)
            if found is not None:
                return found
        if (path / RUN_FOLDER_FILE).is_file():
            raise ZooError(f"{path} is a run folder of `actsparse train`: import "
                           "actsparse.train first (it registers the loader of run folders)")
        return load_hf(path, name=str(path))
    if isinstance(name_or_path, Path) or _looks_like_path(name):
        raise FileNotFoundError(f"model file {path} does not exist")
    try:
        return load_hf(name)
    except (HubLoadError, ImportError) as err:
        raise UnknownNameError("model", name, available_models(),
                               hint=f"nor a Hugging Face model that could be loaded: {err}"
                               ) from err
