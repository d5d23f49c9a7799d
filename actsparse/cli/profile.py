"""``actsparse profile``: profile a model over a data set; write the profile and its report.

``actsparse profile --model mnist-cnn --data mnist --out runs/mnist`` writes
``profile.safetensors`` (:meth:`Profile.load`), ``profile.json`` and ``report.html``, and
prints the per-layer table. A speech model (``silero-vad``) takes speech data
(``speech-commands``, ``speech-commands:PATH``); an ``.onnx`` file runs in onnxruntime.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

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

EXAMPLE_IMAGES = 6  # real inputs drawn with their firing maps in the report


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
    # rows have no pixels to draw, nor has speech (yet)
    examples = _examples(model, data) if four_d and isinstance(data, zoo.ImageData) else None
    with staged_out(out) as tmp:  # all three files, or none
        result.save(tmp / "profile.safetensors")
        write_json(tmp / "profile.json", result.to_dict())
        report.write_report(result, tmp / "report.html", title=f"{model_name} on {data_name}",
                            examples=examples)
    report.print_table(result)
    print(f"wrote {out / 'profile.safetensors'}, {out / 'profile.json'}, {out / 'report.html'}")
    return 0


def _examples(model: zoo.ZooModel, data: zoo.Data, n: int = EXAMPLE_IMAGES
              ) -> report.Examples | None:
    """A few real inputs with each conv layer's firing map, for the report's heatmaps."""
    views = model.views(data.images[:n])[:n]  # type: ignore[union-attr]
    try:
        return report.example_maps(model.module, model.normalize(views), views)
    except ValueError:  # no conv layers: nothing to draw over the images
        return None
