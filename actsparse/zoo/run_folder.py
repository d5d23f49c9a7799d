"""A run folder written by ``actsparse train --out DIR`` as a model: ``load_model(DIR)``.

The folder's ``checkpoint.safetensors`` holds the weights and, in its metadata, the model
configuration and sparsity spec of the run; the model is rebuilt from them
(:func:`actsparse.train.models.build_model`) and the weights loaded strictly. Training feeds
the images as the data sets give them (``[0, 1]``, no normalisation), so the ZooModel's image
input has mean 0 and standard deviation 1 and its batches are the images unchanged.
"""

from __future__ import annotations

from pathlib import Path

from actsparse.zoo.errors import ZooError
from actsparse.zoo.zoo_model import ImageInput, ZooModel

CHECKPOINT = "checkpoint.safetensors"  # actsparse.train.checkpoint.FILE_NAME


def is_run_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a training checkpoint.

    Example:
        >>> import tempfile
        >>> is_run_folder(tempfile.mkdtemp())
        False
    """
    return (Path(path) / CHECKPOINT).is_file()


def load_run_folder(path: str | Path) -> ZooModel:
    """The trained model of a run folder, in eval mode (see the module notes).

    Raises :class:`ZooError` when the checkpoint cannot be read or does not fit the model
    its metadata describes.
    """
    from actsparse.train.checkpoint import CheckpointError, load_checkpoint
    from actsparse.train.models import ModelConfig, build_model
    from actsparse.train.spec import parse_sparsity

    folder = Path(path)
    try:
        ckpt = load_checkpoint(folder / CHECKPOINT)
        config = ModelConfig.from_dict(ckpt.run["model_config"])
        module = build_model(config, parse_sparsity(ckpt.run["sparsity"]))
        module.load_state_dict(ckpt.model, strict=True)
    except (CheckpointError, KeyError, TypeError, RuntimeError) as err:
        raise ZooError(f"{folder} is not a run folder that can be loaded as a model "
                       f"({type(err).__name__}: {err})") from err
    channels, size, _ = config.in_shape
    image_input = ImageInput(size, channels, (0.0,) * channels, (1.0,) * channels)
    return ZooModel(module, "image", str(folder), image_input=image_input,
                    classes=[str(i) for i in range(config.classes)])
