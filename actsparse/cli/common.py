"""Arguments shared by the subcommands, and the few steps every handler takes.

Each subcommand adds only the arguments it uses, through these functions, so that ``--model``,
``--data``, ``--limit`` and the rest read the same everywhere.

Example:
    >>> parser = argparse.ArgumentParser(prog="demo")
    >>> add_model_and_data(parser)
    >>> add_limit(parser)
    >>> args = parser.parse_args(["--model", "mnist-cnn", "--data", "mnist", "--limit", "8"])
    >>> args.model, args.split, args.limit, batch_size_for("image", None)
    ('mnist-cnn', 'test', 8, 256)
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys

import torch
from torch import nn

from actsparse.zoo.data import Data, ImageData
from actsparse.zoo.datasets import SPEECH_NAME, load_data, load_speech
from actsparse.zoo.speech_data import SpeechData
from actsparse.zoo.zoo_model import ZooModel

DEFAULT_BATCH = {"image": 256, "text": 16}  # examples per forward when --batch-size is not given
OTHER_BATCH = 32  # models of another kind (a user's file)
MODEL_HELP = "zoo name, Hugging Face name/folder, or file"
DATA_HELP = "zoo data name, or a file/folder of data"


def positive_int(text: str) -> int:
    """An argparse ``type``: an integer >= 1, else an error that names the value.

    Example:
        >>> positive_int("8")
        8
        >>> positive_int("0")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be a positive integer, got '0'
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse ``type``: an integer >= 0 (a seed), else an error that names the value.

    Example:
        >>> non_negative_int("0")
        0
        >>> non_negative_int("-1")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be an integer >= 0, got '-1'
    """
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def _number(text: str, rule: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """An argparse ``type``: a finite number > 0 (a learning rate, a speed-up).

    Example:
        >>> positive_float("2e-3")
        0.002
        >>> positive_float("0")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be a number > 0, got '0'
    """
    value = _number(text, "a number > 0")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """An argparse ``type``: a finite number >= 0 (a threshold).

    Example:
        >>> non_negative_float("-0.5")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be a number >= 0, got '-0.5'
    """
    value = _number(text, "a number >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    """An argparse ``type``: a number in (0, 1] (a density, a decay factor).

    Example:
        >>> fraction("1")
        1.0
        >>> fraction("1.5")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be a number in (0, 1], got '1.5'
    """
    value = _number(text, "a number in (0, 1]")
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {text!r}")
    return value


def check_out(out: str) -> None:
    """Raise a ``ValueError`` unless ``out`` can be an output folder: not a file, writable.

    Checked before any work, so that a long run does not fail at its very end.

    Example:
        >>> import tempfile
        >>> f = tempfile.NamedTemporaryFile()
        >>> check_out(f.name)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: --out ... is a file, not a folder: give a folder path
    """
    path = os.path.abspath(out)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"--out {out} is a file, not a folder: give a folder path")
    parent = path
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError(f"--out {out}: {parent} is a file, not a folder: give a folder path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: {parent} is not writable: choose a writable folder")


def add_model_and_data(parser: argparse.ArgumentParser, *, split: bool = True) -> None:
    """``--model``, ``--data`` (both required) and, with ``split``, ``--split``."""
    parser.add_argument("--model", required=True, help=MODEL_HELP)
    parser.add_argument("--data", required=True, help=DATA_HELP)
    if split:
        parser.add_argument("--split", default="test", help="data split (default: test)")


def add_limit(parser: argparse.ArgumentParser, default: int | None = None,
              help: str = "use at most N examples") -> None:
    """``--limit N``: how many examples of the data to use."""
    parser.add_argument("--limit", type=positive_int, default=default, help=help)


def add_batch_size(parser: argparse.ArgumentParser, default: int | None = None,
                   help: str | None = None) -> None:
    """``--batch-size``: examples per forward (default: :data:`DEFAULT_BATCH` by kind)."""
    parser.add_argument("--batch-size", type=positive_int, default=default, help=help)


def add_max_length(parser: argparse.ArgumentParser, default: int = 128,
                   help: str = "tokens per text sequence") -> None:
    """``--max-length``: tokens per text sequence."""
    parser.add_argument("--max-length", type=positive_int, default=default, help=help)


def add_out(parser: argparse.ArgumentParser, help: str = "output folder") -> None:
    """``--out``, the required output folder."""
    parser.add_argument("--out", required=True, help=help)


def add_threads(parser: argparse.ArgumentParser,
                help: str = "torch CPU threads (default: torch's)") -> None:
    """``--threads N``: torch CPU threads (see :func:`set_threads`)."""
    parser.add_argument("--threads", type=int, default=None, help=help)


def add_no_progress(parser: argparse.ArgumentParser) -> None:
    """``--no-progress``: no progress bars or step messages."""
    parser.add_argument("--no-progress", action="store_true")


def set_threads(threads: int | None) -> None:
    """Use ``threads`` torch CPU threads; ``None`` keeps torch's choice.

    Example:
        >>> set_threads(0)
        Traceback (most recent call last):
        ...
        ValueError: --threads must be >= 1, got 0
    """
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f"--threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)


def batch_size_for(kind: str, given: int | None) -> int:
    """``given``, else the default batch size of a model of ``kind`` ("image", "text", ...)."""
    return given or DEFAULT_BATCH.get(kind, OTHER_BATCH)


def check_at_least(option: str, value: int | None, least: int) -> None:
    """Raise a ``ValueError`` naming ``option`` unless ``value`` is ``None`` or >= ``least``.

    Example:
        >>> check_at_least("--limit", 0, 1)
        Traceback (most recent call last):
        ...
        ValueError: --limit must be at least 1, got 0
    """
    if value is not None and value < least:
        raise ValueError(f"{option} must be at least {least}, got {value}")


def offline() -> None:
    """Load packaged Hugging Face models without reaching for the hub (unless the user said)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def command_line() -> str:
    """The ``actsparse ...`` command of this process, quoted for a shell ("" when unknown)."""
    return "actsparse " + shlex.join(sys.argv[1:]) if sys.argv else ""


def load_data_for(model: ZooModel, model_name: str, data_name: str, split: str,
                  limit: int | None) -> Data | SpeechData:
    """The data ``model`` takes: speech clips for a speech model, else images or text, checked
    to fit it (:func:`check_data_fits`); speech for another model is refused in one line.

    Example:
        >>> zm = ZooModel(nn.Linear(4, 2), "image", "net.pt")
        >>> load_data_for(zm, "net.pt", "speech-commands", "test", 8)
        Traceback (most recent call last):
        ...
        ValueError: 'speech-commands' is speech and model 'net.pt' takes image data: use
        a speech model (--model silero-vad, or the run folder of actsparse train --model
        ds-cnn|gsc-cnn)
    """
    if model.kind == "speech":
        if data_name.split(":")[0] != SPEECH_NAME:
            raise ValueError(f"model {model_name!r} takes speech and {data_name!r} is not "
                             f"speech: use --data {SPEECH_NAME} (or {SPEECH_NAME}:PATH for a "
                             "Google Speech Commands folder)")
        return load_speech(data_name, split=split, limit=limit)
    if data_name.split(":")[0] == SPEECH_NAME:
        raise ValueError(f"{data_name!r} is speech and model {model_name!r} takes {model.kind} "
                         "data: use a speech model (--model silero-vad, or the run folder of "
                         "actsparse train --model ds-cnn|gsc-cnn)")
    data = load_data(data_name, split=split, limit=limit)
    check_data_fits(model, data, data_name)
    return data


def check_data_fits(model: ZooModel, data: Data, data_name: str) -> None:
    """Run one example through the model; a shape it does not take is one clear ``ValueError``.

    Called before any work, so that a data file of the wrong shape (rows for a CNN, the wrong
    number of channels or features) is named with its shape, not a torch shape traceback.

    Example:
        >>> from actsparse.zoo import ImageData, ZooModel
        >>> zm = ZooModel(nn.Sequential(nn.Linear(10, 2), nn.ReLU()), "image", "net.pt")
        >>> check_data_fits(zm, ImageData(torch.zeros(4, 7), torch.zeros(4).long()), "x.npy")
        Traceback (most recent call last):
        ...
        ValueError: data x.npy has shape (4, 7), which model 'net.pt' does not take (its first
        layer 0 takes 10 features): mat1 and mat2 shapes cannot be multiplied (1x7 and 10x2);
        give data of the shape the model expects
    """
    if not isinstance(data, ImageData) or len(data) == 0:
        return
    try:
        batch = next(iter(model.batches(data[:1], batch_size=1)))
        with torch.no_grad():
            model.module(batch)
    except (RuntimeError, ValueError) as err:
        lines = str(err).strip().splitlines()
        why = " ".join(lines[0].split()) if lines else type(err).__name__
        raise ValueError(f"data {data_name} has shape {tuple(data.images.shape)}, which model "
                         f"{model.name!r} does not take{_expects(model)}: {why}; give data of "
                         "the shape the model expects") from err


def _expects(model: ZooModel) -> str:
    """`` (it takes ...)``: the input the model expects, where it can be told."""
    if model.image_input is not None:
        c, h, w = model.image_input.shape
        return f" (it takes images (N, {c}, {h}, {w}) or rows of {c * h * w} values)"
    for name, module in model.module.named_modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            return f" (its first layer {name} takes {module.in_channels} channels)"
        if isinstance(module, nn.Linear):
            return f" (its first layer {name} takes {module.in_features} features)"
    return ""
