"""``actsparse profile``: profile a model over a data set; write the profile and its report.

``actsparse profile --model mnist-cnn --data mnist --out runs/mnist`` writes
``profile.safetensors`` (:meth:`Profile.load`), ``profile.json`` and ``report.html``, and
prints the per-layer table. A speech model (``silero-vad``, a keyword-spotting run folder)
takes speech data (``speech-commands``, ``speech-commands:PATH``); an ``.onnx`` file runs in
onnxruntime. For a run folder the report also draws a few test clips' log-mel spectrograms with
each conv layer's active units laid over them, and ``spectrograms/`` holds them as PNGs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

import actsparse
from actsparse import report, zoo
from actsparse._jsonio import write_json
from actsparse._out_folder import staged_out
from actsparse.cli.common import (
    add_batch_size,
    add_limit,
    add_max_length,
    add_model_and_data,
    add_no_progress,
    add_out,
    batch_size_for,
    load_data_for,
    offline,
)
from actsparse.report.spectrogram_overlay import write_spectrogram_pngs

EXAMPLE_IMAGES = 6  # real inputs drawn with their firing maps in the report
EXAMPLE_CLIPS = 4  # speech clips, each of another word where the data has enough words
SPECTROGRAMS = "spectrograms"  # the folder of --out that holds one PNG per example clip


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``profile`` to the ``actsparse`` subparsers ``sub``; return its parser.

    Example:
        >>> parser = argparse.ArgumentParser(prog="actsparse")
        >>> p = add_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["profile", "--model", "mnist-cnn", "--data", "mnist",
        ...                           "--out", "r", "--layers", "features.1:input"])
        >>> args.split, args.limit, args.max_length, args.layers, args.inputs
        ('test', None, 128, ['features.1:input'], False)
    """
    p: argparse.ArgumentParser = sub.add_parser("profile", help="profile a model over a data set")
    add_model_and_data(p)
    add_limit(p)
    add_batch_size(p)
    add_max_length(p)
    p.add_argument("--layers", nargs="+", default=None, help="names or globs; NAME:input")
    p.add_argument("--inputs", action="store_true", help="also the inputs of Linear/Conv")
    add_out(p)
    add_no_progress(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Handle ``actsparse profile``."""
    return run_profile(
        model_name=args.model, data_name=args.data, out=Path(args.out), split=args.split,
        limit=args.limit, batch_size=args.batch_size, max_length=args.max_length,
        layers=args.layers, inputs=args.inputs, progress=not args.no_progress,
    )


def run_profile(
    *,
    model_name: str,
    data_name: str,
    out: Path,
    split: str = "test",
    limit: int | None = None,
    batch_size: int | None = None,
    max_length: int = 128,
    layers: list[str] | None = None,
    inputs: bool = False,
    progress: bool = True,
) -> int:
    """Profile a zoo (or user) model on a data set; write profile files and the report."""
    offline()
    model = zoo.load_model(model_name)
    data = load_data_for(model, model_name, data_name, split, limit)
    size = batch_size_for(model.kind, batch_size)
    batches = model.batches(data, batch_size=size, max_length=max_length)
    result = actsparse.profile(model.module, batches, layers=layers, inputs=inputs,
                               progress=progress)
    result.meta.update(model=model_name, data=data_name, split=split, limit=limit,
                       batch_size=size)
    four_d = isinstance(data, zoo.ImageData) and model.kind == "image" and data.images.ndim == 4
    # rows have no pixels to draw
    examples = _examples(model, data) if four_d and isinstance(data, zoo.ImageData) else None
    note = None
    if isinstance(data, zoo.SpeechData):
        examples, note = _speech_examples(model, model_name, data)
    pngs = examples is not None and examples.kind == "spectrogram"
    with staged_out(out) as tmp:  # every file, or none
        result.save(tmp / "profile.safetensors")
        write_json(tmp / "profile.json", result.to_dict())
        report.write_report(result, tmp / "report.html", title=f"{model_name} on {data_name}",
                            examples=examples, examples_note=note)
        if examples is not None and pngs:
            write_spectrogram_pngs(examples, tmp / SPECTROGRAMS)
    report.print_table(result)
    print(f"wrote {out / 'profile.safetensors'}, {out / 'profile.json'}, {out / 'report.html'}"
          + (f", {out / SPECTROGRAMS}/" if pngs else ""))
    return 0


def _examples(model: zoo.ZooModel, data: zoo.Data, n: int = EXAMPLE_IMAGES
              ) -> report.Examples | None:
    """A few real inputs with each conv layer's firing map, for the report's heatmaps."""
    views = model.views(data.images[:n])[:n]  # type: ignore[union-attr]
    try:
        return report.example_maps(model.module, model.normalize(views), views)
    except ValueError:  # no conv layers: nothing to draw over the images
        return None


def _speech_examples(model: zoo.ZooModel, model_name: str, data: zoo.SpeechData,
                     n: int = EXAMPLE_CLIPS) -> tuple[report.Examples | None, str | None]:
    """A few clips' log-mels with each conv layer's map, or why none can be drawn."""
    if model.features is None:  # silero-vad: waves straight into ONNX Runtime
        return None, (f"Not drawn for {model_name}: it takes the raw waveform, so there is no "
                      "spectrogram it sees to lay units over, and its layers are ONNX Runtime "
                      "nodes, which keep no per-clip maps (the profile above has their "
                      "statistics over all clips).")
    clips = data.select(_one_per_word(data.labels, n))
    features = model.features(clips.waves)  # (K, 1, bands, frames), as the model is fed
    words = [clips.classes[int(c)] if clips.classes else str(int(c)) for c in clips.labels]
    try:
        return report.example_maps(model.module, features, captions=words,
                                   kind="spectrogram"), None
    except ValueError:  # no layer with a (B, C, bands, frames) activation
        return None, (f"Not drawn for {model_name}: none of its layers gives a (B, C, time, "
                      "frequency) activation to lay over the spectrogram.")


def _one_per_word(labels: Tensor, n: int) -> Tensor:
    """Indices of ``n`` clips: the first of each word in turn, then the next ones if short.

    Example:
        >>> _one_per_word(torch.tensor([3, 3, 1, 3, 0]), 3).tolist()
        [0, 2, 4]
        >>> _one_per_word(torch.tensor([5, 5, 5]), 2).tolist()
        [0, 1]
    """
    first: dict[int, int] = {}
    for i, c in enumerate(labels.tolist()):
        first.setdefault(int(c), i)
    chosen = sorted(first.values())[:n]
    rest = [i for i in range(len(labels)) if i not in set(chosen)]
    return torch.tensor(sorted(chosen + rest[:n - len(chosen)]), dtype=torch.long)
