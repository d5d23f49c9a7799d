"""A user's own model file: TorchScript, ONNX, or a whole ``nn.Module`` (``torch.save``)."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from actsparse.measure.onnx_module import OnnxModule
from actsparse.zoo.errors import ZooError
from actsparse.zoo.zoo_model import ZooModel

MODEL_SUFFIXES = (".pt", ".pth", ".pkl", ".jit", ".torchscript", ".ts", ".bin", ".onnx")


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(n.endswith("/constants.pkl") or "/code/" in n for n in archive.namelist())


def load_module_file(path: str | Path) -> nn.Module:
    """Load a TorchScript file, an ONNX file, or a pickled full ``nn.Module`` (``torch.save``).

    An ``.onnx`` file becomes an :class:`~actsparse.measure.onnx_module.OnnxModule`, run by
    onnxruntime (the ``onnx`` extra), whose activation nodes the profiler reads.

    A pickled module is loaded with ``torch.load(weights_only=False)``, which runs code from
    the file: this happens only for a path the user passed explicitly, never for a zoo name,
    so load only files you trust. The module's class must be importable. A state dict is not
    a model: build the model in Python, ``load_state_dict`` it, and pass the module itself.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "net.pt")
        >>> torch.jit.script(nn.Sequential(nn.Linear(4, 2), nn.ReLU())).save(path)
        >>> load_module_file(path)(torch.ones(1, 4)).shape
        torch.Size([1, 2])
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    if path.suffix.lower() == ".onnx":
        return OnnxModule(path)
    if _is_torchscript(path):
        return torch.jit.load(str(path), map_location="cpu")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # unpickling fails in many ways
        raise ZooError(f"{path}: cannot load it as a TorchScript file or a pickled nn.Module "
                       f"({type(err).__name__}: {err})") from err
    if isinstance(obj, nn.Module):
        return obj
    if isinstance(obj, Mapping):
        raise ZooError(f"{path} holds a {type(obj).__name__} of {len(obj)} entries (a state "
                       "dict?), not a model: build the model in Python, call load_state_dict, "
                       "and pass the module, or save the whole module / a TorchScript file")
    raise ZooError(f"{path} holds a {type(obj).__name__}, not an nn.Module")


def wrap_module(module: nn.Module, name: str = "") -> ZooModel:
    """A user's module as an image-kind ZooModel whose batches are the images unchanged.

    The zoo cannot know what the module expects, so no resizing or normalisation is applied.

    Example:
        >>> zm = wrap_module(nn.Flatten(), "mine")
        >>> zm.kind, zm.image_input is None, zm.module.training
        ('image', True, False)
    """
    return ZooModel(module, "image", name or type(module).__name__)
