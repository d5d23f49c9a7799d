"""Real data sets and pretrained models that work offline, and the user's own files.

Leaf level: used by the CLI, studies, tests and benchmarks, never by the core verbs.
Every packaged asset ships inside a pip or Debian package (see ASSETS.md); a missing one
raises :class:`MissingAssetError` with the install command.

Example:
    >>> from actsparse import zoo
    >>> data = zoo.load_data("digits", limit=8)
    >>> model = zoo.load_model("mnist-cnn")
    >>> [tuple(b.shape) for b in model.batches(data, batch_size=4)]
    [(4, 1, 28, 28), (4, 1, 28, 28)]
"""

from actsparse.zoo.data import Data, ImageData, TextData
from actsparse.zoo.datasets import available_datasets, load_data, load_speech
from actsparse.zoo.display import example_images, to_display
from actsparse.zoo.errors import DataFormatError, MissingAssetError, UnknownNameError, ZooError
from actsparse.zoo.mobilenet import MobileNetV2
from actsparse.zoo.models import available_models, load_model
from actsparse.zoo.speech_data import SpeechData
from actsparse.zoo.zoo_model import ImageInput, ZooModel

__all__ = [
    "Data",
    "DataFormatError",
    "ImageData",
    "ImageInput",
    "MissingAssetError",
    "MobileNetV2",
    "SpeechData",
    "TextData",
    "UnknownNameError",
    "ZooError",
    "ZooModel",
    "available_datasets",
    "available_models",
    "example_images",
    "load_data",
    "load_model",
    "load_speech",
    "to_display",
]
