"""The ``actsparse sae`` subcommand: train a sparse autoencoder on one layer of a model.

``actsparse sae --model smollm2 --layer model.layers.15.mlp --data text --out runs/sae``
captures the layer's activation vectors on the data's train split (padding left out), trains a
TopK SAE on them, evaluates it on the test split and writes:

- ``sae.safetensors``: the weights, with the configuration as JSON metadata (``load_sae``);
- ``sae.json``: configuration, training curve, metrics on train and held-out vectors (FVU, L0,
  dead fraction, feature density histogram), the downstream effect of splicing the SAE into
  the model (loss recovered for a language model, embedding cosine for an encoder), the top
  latents' snippets, timings and the command line;
- ``report.html``: the same as a page with plots.

A data set without splits (a user's file) is split: every 10th example is held out.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from actsparse import zoo

MODEL_BATCH = {"image": 128, "text": 16}


def add_sae_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``sae`` to the ``actsparse`` subparsers ``sub``; return its parser.

    Example:
        >>> parser = argparse.ArgumentParser(prog="actsparse")
        >>> p = add_sae_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["sae", "--model", "minilm", "--layer", "encoder.layer.3",
        ...                           "--data", "text", "--out", "r", "--k", "16"])
        >>> args.k, args.expansion, args.tokens
        (16, 8.0, 65536)
    """
    p: argparse.ArgumentParser = sub.add_parser(
        "sae", help="train a sparse autoencoder on one layer's activations; measure it")
    p.add_argument("--model", required=True, help="zoo name, Hugging Face name/folder, or file")
    p.add_argument("--layer", required=True,
                   help="module name (NAME:input for its input), e.g. model.layers.15.mlp")
    p.add_argument("--data", required=True,
                   help="zoo data name (trained on 'train', evaluated on 'test') or a file")
    p.add_argument("--out", required=True, help="output folder")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--latents", type=int, default=None, help="number of latents")
    size.add_argument("--expansion", type=float, default=8.0,
                      help="latents per input dimension when --latents is not given (default 8)")
    p.add_argument("--k", type=int, default=32, help="active latents per vector (default 32)")
    p.add_argument("--tokens", type=int, default=65536,
                   help="activation vectors to capture for training, at most (default 65536)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, default=None, help="optimiser steps")
    length.add_argument("--epochs", type=float, default=10.0,
                        help="passes over the captured vectors (default 10)")
    p.add_argument("--batch-size", type=int, default=1024, help="vectors per step (default 1024)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 2e-3)")
    p.add_argument("--dead-tokens", type=int, default=10_000,
                   help="a latent silent for this many vectors is dead (AuxK revives it)")
    p.add_argument("--eval-limit", type=int, default=None,
                   help="held-out examples to evaluate on (default: the whole test split)")
    p.add_argument("--model-batch-size", type=int, default=None,
                   help="examples per forward of the model (default: 16 texts, 128 images)")
    p.add_argument("--max-length", type=int, default=256, help="tokens per text (default 256)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=_run)
    return p


def _run(args: argparse.Namespace) -> int:
    result = run_sae(
        model_name=args.model, layer=args.layer, data_name=args.data, out=Path(args.out),
        n_latents=args.latents, expansion=args.expansion, k=args.k, tokens=args.tokens,
        steps=args.steps, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        dead_tokens=args.dead_tokens, eval_limit=args.eval_limit,
        model_batch_size=args.model_batch_size, max_length=args.max_length, seed=args.seed,
        progress=not args.no_progress,
        command="actsparse " + shlex.join(sys.argv[1:]) if sys.argv else "")
    print_summary(result)
    out = Path(args.out)
    print(f"wrote {out / 'sae.safetensors'}, {out / 'sae.json'}, {out / 'report.html'}")
    return 0


def run_sae(
    *, model_name: str | zoo.ZooModel, layer: str, data_name: str, out: Path,
    n_latents: int | None = None, expansion: float = 8.0, k: int = 32, tokens: int = 65536,
    steps: int | None = None, epochs: float = 10.0, batch_size: int = 1024, lr: float = 2e-3,
    dead_tokens: int = 10_000, eval_limit: int | None = None,
    model_batch_size: int | None = None, max_length: int = 256, seed: int = 0,
    progress: bool = True, command: str = "", shown: int = 6,
) -> dict[str, Any]:
    """Capture, train, evaluate and write the files of ``actsparse sae``; return ``sae.json``.

    ``model_name`` may also be a loaded :class:`~actsparse.zoo.ZooModel` (tests and benchmarks
    reuse one).
    """
    from actsparse import zoo
    from actsparse.interpret.capture import capture_activations, resolve_layer
    from actsparse.interpret.sae import SparseAutoencoder
    from actsparse.interpret.sae_eval import downstream_effect, evaluate_sae
    from actsparse.interpret.sae_report import top_latent_examples, write_sae_page
    from actsparse.interpret.sae_train import save_sae, train_sae

    _check_args(n_latents, expansion, k, tokens, max_length)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    zm = model_name if isinstance(model_name, zoo.ZooModel) else zoo.load_model(model_name)
    resolve_layer(zm.module, layer)  # a bad layer fails before any work
    train_data, test_data = _splits(data_name, eval_limit)
    size = model_batch_size or MODEL_BATCH.get(zm.kind, 32)
    timings["load_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    train_batches = zm.batches(_bucketed(zm, train_data, size, seed), batch_size=size,
                               max_length=max_length)
    x_train = capture_activations(zm.module, train_batches, layer, limit=tokens)
    d_in = x_train.shape[1]
    latents = n_latents if n_latents is not None else max(1, round(expansion * d_in))
    SparseAutoencoder(d_in, latents, k)  # checks k against the latents before more work
    x_test = capture_activations(
        zm.module, zm.batches(_bucketed(zm, test_data, size, seed), batch_size=size,
                              max_length=max_length), layer, limit=tokens)
    timings["capture_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    trained = train_sae(x_train, n_latents=latents, k=k, steps=steps, epochs=epochs,
                        batch_size=batch_size, lr=lr, dead_tokens=dead_tokens, seed=seed,
                        progress=progress)
    sae = trained.sae
    timings["train_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    on_train = evaluate_sae(sae, x_train)
    held_out = evaluate_sae(sae, x_test)
    test_batches = list(zm.batches(_bucketed(zm, test_data, size, seed), batch_size=size,
                                   max_length=max_length))
    downstream = downstream_effect(zm.module, test_batches, layer, sae)
    timings["evaluate_s"] = time.perf_counter() - clock
    clock = time.perf_counter()
    examples: list[dict[str, Any]] = []
    texts = getattr(test_data, "texts", None)
    if texts is not None and zm.tokenizer is not None and getattr(zm.tokenizer, "is_fast", False):
        examples = top_latent_examples(zm.module, zm.tokenizer, texts, layer, sae, shown=shown,
                                       max_length=max_length, batch_size=size)
    timings["examples_s"] = time.perf_counter() - clock

    name = model_name if isinstance(model_name, str) else zm.name
    result: dict[str, Any] = {
        "command": command, "model": name, "layer": layer, "data": data_name,
        "sae": sae.config(), "training": {**trained.config,
                                          "dead_fraction_tracker": trained.dead_fraction,
                                          "seconds": trained.seconds},
        "input_normalisation": "inputs scaled by one factor so that the mean squared norm is "
                               "d_in (Gao et al. 2024); b_pre starts at the geometric median",
        "train": _public(on_train), "held_out": _public(held_out), "downstream": downstream,
        "density_histogram": held_out["density_histogram"],
        "history": trained.history, "top_latents": examples,
        "timings": {key: round(value, 2) for key, value in timings.items()},
    }
    out.mkdir(parents=True, exist_ok=True)
    save_sae(sae, out / "sae.safetensors", meta={"model": name, "layer": layer,
                                                 "data": data_name})
    (out / "sae.json").write_text(json.dumps(_strict(result), indent=2))
    write_sae_page(out / "report.html", title=f"SAE on {name} {layer} ({data_name})",
                   summary=_summary(result), histogram=held_out["density_histogram"],
                   history=trained.history, examples=examples, command=command)
    return result


def print_summary(result: dict[str, Any], console: Any = None) -> None:
    """Print the summary of a ``run_sae`` result as a small rich table.

    Example:
        >>> import io
        >>> from rich.console import Console
        >>> console = Console(file=io.StringIO(), width=100)
        >>> print_summary({"model": "m", "layer": "l", "sae": {"n_latents": 8, "k": 2},
        ...                "train": {"fvu": 0.1, "l0": 2.0, "dead_fraction": 0.0},
        ...                "held_out": {"fvu": 0.2, "l0": 2.0, "dead_fraction": 0.1},
        ...                "downstream": {"task": "lm", "loss_recovered": 0.9}}, console)
        >>> "loss_recovered" in console.file.getvalue()
        True
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"SAE {result['model']} {result['layer']}"), header_style="bold")
    table.add_column("measure")
    table.add_column("train", justify="right")
    table.add_column("held-out", justify="right")
    for key in ("fvu", "l0", "dead_fraction"):
        table.add_row(key, _fmt(result["train"].get(key)), _fmt(result["held_out"].get(key)))
    for key, value in result["downstream"].items():
        if isinstance(value, float):
            table.add_row(Text(key), "", _fmt(value))
    (console or Console()).print(table)


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    rows: dict[str, Any] = {
        "model": result["model"], "layer": result["layer"], "data": result["data"],
        "latents": result["sae"]["n_latents"], "k": result["sae"]["k"],
        "training vectors": result["train"]["vectors"],
        "held-out vectors": result["held_out"]["vectors"],
        "steps": result["training"]["steps"],
        "FVU (train / held-out)": f"{result['train']['fvu']:.4f} / "
                                  f"{result['held_out']['fvu']:.4f}",
        "L0 (held-out)": result["held_out"]["l0"],
        "dead fraction (never fired: train / held-out)":
            f"{result['train']['dead_fraction']:.2%} / {result['held_out']['dead_fraction']:.2%}",
    }
    rows.update({f"downstream: {k}": v for k, v in result["downstream"].items()
                 if k not in ("layer",)})
    return rows


def _splits(data_name: str, eval_limit: int | None) -> tuple[zoo.Data, zoo.Data]:
    from actsparse import zoo
    from actsparse.zoo.datasets import DATASETS

    if data_name in DATASETS:
        return (zoo.load_data(data_name, split="train"),
                zoo.load_data(data_name, split="test", limit=eval_limit))
    data = zoo.load_data(data_name)
    if len(data) < 2:
        raise ValueError(f"data {data_name!r} has {len(data)} examples; need at least 2 (every "
                         "10th is held out)")
    held = list(range(0, len(data), 10))[:eval_limit]
    train = [i for i in range(len(data)) if i % 10]
    return _subset(data, train), _subset(data, held)


def _subset(data: zoo.Data, index: list[int]) -> zoo.Data:
    from actsparse.zoo.data import ImageData, TextData

    if isinstance(data, TextData):
        return TextData([data.texts[i] for i in index], data.name)
    if isinstance(data, ImageData):
        picked = torch.tensor(index, dtype=torch.long)
        return ImageData(data.images[picked], data.labels[picked], data.name, data.classes)
    raise TypeError(f"cannot split data of type {type(data).__name__}")


def _bucketed(zm: zoo.ZooModel, data: zoo.Data, batch_size: int, seed: int) -> zoo.Data:
    """Texts shuffled, then sorted by length within buckets of 8 batches: far less padding.

    A limit on captured vectors then still samples passages of every length.
    """
    from actsparse.zoo.data import TextData

    if not isinstance(data, TextData) or zm.tokenizer is None:
        return data
    texts = list(data.texts)
    random.Random(seed).shuffle(texts)
    bucket = 8 * batch_size
    ordered: list[str] = []
    for start in range(0, len(texts), bucket):
        ordered += sorted(texts[start:start + bucket], key=len)
    return TextData(ordered, data.name)


def _check_args(n_latents: int | None, expansion: float, k: int, tokens: int,
                max_length: int) -> None:
    if n_latents is not None and n_latents < 1:
        raise ValueError(f"--latents must be a positive number of latents, got {n_latents}")
    if n_latents is None and not expansion > 0:
        raise ValueError(f"--expansion must be positive, got {expansion}")
    if k < 1:
        raise ValueError(f"--k must be at least 1, got {k}")
    if n_latents is not None and k > n_latents:
        raise ValueError(f"--k {k} is larger than --latents {n_latents}: k must be between 1 "
                         "and the number of latents")
    if tokens < 1:
        raise ValueError(f"--tokens must be at least 1, got {tokens}")
    if max_length < 2:
        raise ValueError(f"--max-length must be at least 2, got {max_length}")


def _public(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k not in ("density", "density_histogram")}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "-" if not math.isfinite(value) else f"{value:.4f}"
    return "-" if value is None else str(value)


def _strict(value: Any) -> Any:
    """``value`` made strict JSON: tensors as lists, NaN and inf as None."""
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    if isinstance(value, torch.Tensor):
        return _strict(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
