"""A run folder written by ``actsparse train --out DIR`` as a model: ``zoo.load_model(DIR)``.

Importing :mod:`actsparse.train` registers :func:`load_run_folder` with the zoo
(:func:`actsparse.zoo.models.register_folder_loader`; the zoo cannot import the training
application, which depends on it), so ``zoo.load_model(DIR)`` and ``--model DIR`` in every
``actsparse`` subcommand take a run folder. The folder's ``checkpoint.safetensors`` holds
the weights and, in its metadata, the model configuration and sparsity spec of the run; the
model is rebuilt from them (:func:`actsparse.train.models.build_model`) and the weights
loaded strictly. Training feeds the images as the data sets give them (``[0, 1]``, no
normalisation), so the ZooModel's image input has mean 0 and standard deviation 1 and its
batches are the images unchanged.

A keyword-spotting run (``ds-cnn``, ``gsc-cnn``) is a 'speech' ZooModel whose module is the
network on log-mels, exactly as trained: it takes speech data (``--data speech-commands``),
and its batches are the clips' per-clip standardised log-mels
(:class:`~actsparse.train.speech_inputs.LogMelInput`, the features training used), so
profiling and ``accelerate()`` see the network alone. Its weights are those of the best val
epoch (``best.safetensors``), the model the run's metrics describe.
"""

from __future__ import annotations

from pathlib import Path

from actsparse.train.checkpoint import FILE_NAME, CheckpointError, load_checkpoint
from actsparse.train.models import SPEECH_ARCHS, ModelConfig, build_model
from actsparse.train.spec import parse_sparsity
from actsparse.train.speech_inputs import LogMelInput
from actsparse.zoo.datasets import SPEECH_NAME
from actsparse.zoo.errors import ZooError
from actsparse.zoo.models import register_folder_loader
from actsparse.zoo.speech_commands import CLASSES
from actsparse.zoo.zoo_model import ImageInput, ZooModel

BEST_FILE = "best.safetensors"  # a speech run's best val epoch (see actsparse.train.loop)


def is_run_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a training checkpoint.

    Example:
        >>> import tempfile
        >>> is_run_folder(tempfile.mkdtemp())
        False
    """
    return (Path(path) / FILE_NAME).is_file()


def load_run_folder(path: str | Path) -> ZooModel | None:
    """The trained model of a run folder, in eval mode (see the module notes); None when
    ``path`` is not a run folder.

    Raises :class:`ZooError` when the checkpoint cannot be read or does not fit the model
    its metadata describes.
    """
    folder = Path(path)
    if not is_run_folder(folder):
        return None
    try:
        ckpt = load_checkpoint(folder / FILE_NAME)
        if ckpt.run.get("model") == "mult-dae":
            raise ZooError(f"{folder} is a run of the mult-dae recommender; the zoo loads the "
                           "classifiers of actsparse train (cnn, mlp, ds-cnn, gsc-cnn) only")
        config = ModelConfig.from_dict(ckpt.run["model_config"])
        module = build_model(config, parse_sparsity(ckpt.run["sparsity"]))
        speech = config.arch in SPEECH_ARCHS
        if speech and (folder / BEST_FILE).is_file():
            ckpt = load_checkpoint(folder / BEST_FILE)
        module.load_state_dict(ckpt.model, strict=True)
    except (CheckpointError, KeyError, TypeError, RuntimeError) as err:
        raise ZooError(f"{folder} is not a run folder that can be loaded as a model "
                       f"({type(err).__name__}: {err})") from err
    if speech:
        return ZooModel(module, "speech", str(folder), classes=_speech_classes(ckpt.run, config),
                        features=LogMelInput(config.in_shape))
    channels, size, _ = config.in_shape
    image_input = ImageInput(size, channels, (0.0,) * channels, (1.0,) * channels)
    return ZooModel(module, "image", str(folder), image_input=image_input,
                    classes=[str(i) for i in range(config.classes)])


def _speech_classes(run: dict[str, object], config: ModelConfig) -> list[str]:
    """The label names of a speech run: Speech Commands' twelve, where the run has twelve."""
    if str(run.get("data", "")).split(":")[0] == SPEECH_NAME and config.classes == len(CLASSES):
        return list(CLASSES)
    return [str(i) for i in range(config.classes)]


register_folder_loader(load_run_folder)
