"""One entry point for data: a zoo data set name, or a user's file or folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from actsparse.zoo import images, text
from actsparse.zoo.data import Data
from actsparse.zoo.errors import UnknownNameError
from actsparse.zoo.files import read_path
from actsparse.zoo.speech_data import SpeechData

SPEECH_NAME = "speech-commands"

DATASETS: dict[str, Callable[[str, int | None], Data]] = {
    "mnist": images.mnist,
    "fashion-mnist": images.fashion_mnist,
    "digits": images.digits,
    "photos": images.photos,
    "text": text.text,
}


def available_datasets() -> list[str]:
    """The zoo's data set names.

    Example:
        >>> available_datasets()
        ['mnist', 'fashion-mnist', 'digits', 'photos', 'text']
    """
    return list(DATASETS)


def load_data(name_or_path: str | Path, split: str = "test", limit: int | None = None) -> Data:
    """Load a data set by zoo name, or a user's ``.pt``/``.npy``/``.npz``/``.txt``/image folder.

    Image data sets come as :class:`~actsparse.zoo.data.ImageData` (float32 ``(N, C, H, W)``
    in ``[0, 1]``, int64 labels, -1 where unknown), text as
    :class:`~actsparse.zoo.data.TextData`. ``split`` is 'train' or 'test' ('val' too for
    mnist; photos has only 'test'); it is ignored for a user's files, which are used whole.

    Example:
        >>> data = load_data("digits", split="train", limit=10)
        >>> type(data).__name__, tuple(data.images.shape)
        ('ImageData', (10, 1, 8, 8))
        >>> load_data("cifar")
        Traceback (most recent call last):
        ...
        actsparse.zoo.errors.UnknownNameError: unknown data set 'cifar'; known data sets: mnist,
        fashion-mnist, digits, photos, text (or pass a path to a file or folder)
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be None or >= 0, got {limit}")
    name = str(name_or_path)
    if (name == SPEECH_NAME or name.startswith(SPEECH_NAME + ":")) and not isinstance(
            name_or_path, Path):
        raise ValueError(f"{name!r} is speech (audio clips, not images or text): load it with "
                         f"actsparse.zoo.load_speech({name!r}, split)")
    if name in DATASETS and not isinstance(name_or_path, Path):
        return DATASETS[name](split, limit)
    path = Path(name).expanduser()
    if path.exists() or isinstance(name_or_path, Path) or path.suffix or "/" in name:
        return read_path(path, limit)
    raise UnknownNameError("data set", name, available_datasets())


def load_speech(name: str = SPEECH_NAME, split: str = "train",
                limit: int | None = None) -> SpeechData:
    """Speech clips: the synthesised set, or ``'speech-commands:PATH'`` for the real GSC.

    'speech-commands' is synthesised (splits 'train', 'val', 'test', 'heldout-engine', see
    :mod:`~actsparse.zoo.speech_commands`; generated and cached on first use);
    ``'speech-commands:/path/to/gsc'`` reads Google Speech Commands from its folder (splits
    'train', 'val', 'test', see :mod:`~actsparse.zoo.speech_gsc`).

    Example:
        >>> load_speech("speech-commands:/nonexistent")
        Traceback (most recent call last):
        ...
        FileNotFoundError: Speech Commands folder /nonexistent does not exist
        >>> load_speech("voices")
        Traceback (most recent call last):
        ...
        actsparse.zoo.errors.UnknownNameError: unknown speech data set 'voices'; known speech
        data sets: speech-commands ...
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be None or >= 0, got {limit}")
    if name == SPEECH_NAME:
        from actsparse.zoo.speech_commands import speech_commands
        return speech_commands(split, limit)
    if name.startswith(SPEECH_NAME + ":"):
        from actsparse.zoo.speech_gsc import load_gsc
        return load_gsc(name[len(SPEECH_NAME) + 1:], split, limit)
    raise UnknownNameError("speech data set", name, [SPEECH_NAME],
                           f"or '{SPEECH_NAME}:PATH' for a Speech Commands folder")
