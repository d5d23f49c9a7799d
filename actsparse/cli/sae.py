"""``actsparse sae``: train a sparse autoencoder on one layer of a model.

``actsparse sae --model smollm2 --layer model.layers.15.mlp --data text --out runs/sae``
captures the layer's activation vectors on the data's train split (padding left out), trains a
TopK SAE on them, evaluates it on the test split and writes:

- ``sae.safetensors``: the weights, with the configuration as JSON metadata (``load_sae``);
- ``sae.json``: configuration, training curve, metrics on train and held-out vectors (FVU, L0,
  dead fraction, feature density histogram), the downstream effect of splicing the SAE into
  the model (loss recovered for a language model, embedding cosine for an encoder), the top
  latents' snippets, timings and the command line;
- ``report.html``: the same as a page with plots.

``--arch`` picks the architecture (``topk``, the default; ``batchtopk``, ``jumprelu`` with its
``--l0-coef``; ``matryoshka``). ``--target-layer NAME`` trains a *transcoder* instead: it
predicts that layer's vectors from ``--layer``'s (captured in the same forwards, e.g.
``--layer encoder.layer.3.intermediate:input --target-layer encoder.layer.3.output`` for an MLP
block); FVU is then against the target, and the downstream splice is left out.

A data set without splits (a user's file) is split: every 10th example is held out.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from actsparse import zoo
from actsparse._jsonio import write_json
from actsparse._out_folder import staged_out
from actsparse.cli.common import (
    MODEL_HELP,
    add_max_length,
    add_no_progress,
    add_out,
    check_data_fits,
    command_line,
    non_negative_int,
    offline,
    positive_float,
    positive_int,
)
from actsparse.interpret.capture import capture_activations, capture_pairs, resolve_layer
from actsparse.interpret.sae import SparseAutoencoder
from actsparse.interpret.sae_eval import downstream_effect, evaluate_sae
from actsparse.interpret.sae_sparsity import ARCHITECTURES
from actsparse.interpret.sae_top_latents import top_latent_examples
from actsparse.interpret.sae_train import SAETrainResult, save_sae, train_sae
from actsparse.report.format import fmt
from actsparse.report.sae_page import write_sae_page
from actsparse.report.table import print_rows
from actsparse.zoo.data import ImageData, TextData
from actsparse.zoo.datasets import DATASETS

MODEL_BATCH = {"image": 128, "text": 16}
NORMALISATION = ("inputs scaled by one factor so that the mean squared norm is d_in (Gao et al. "
                 "2024); b_pre starts at the geometric median")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``sae`` to the ``actsparse`` subparsers ``sub``; return its parser.

    Example:
        >>> parser = argparse.ArgumentParser(prog="actsparse")
        >>> p = add_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["sae", "--model", "minilm", "--layer", "encoder.layer.3",
        ...                           "--data", "text", "--out", "r", "--k", "16"])
        >>> args.k, args.expansion, args.tokens, args.arch
        (16, 8.0, 65536, 'topk')
    """
    p: argparse.ArgumentParser = sub.add_parser(
        "sae", help="train a sparse autoencoder on one layer's activations; measure it")
    p.add_argument("--model", required=True, help=MODEL_HELP)
    p.add_argument("--layer", required=True,
                   help="module name (NAME:input for its input), e.g. model.layers.15.mlp")
    p.add_argument("--data", required=True,
                   help="zoo data name (trained on 'train', evaluated on 'test') or a file")
    add_out(p)
    size = p.add_mutually_exclusive_group()
    size.add_argument("--latents", type=positive_int, default=None, help="number of latents")
    size.add_argument("--expansion", type=positive_float, default=8.0,
                      help="latents per input dimension when --latents is not given (default 8)")
    p.add_argument("--k", type=positive_int, default=32,
                   help="active latents per vector (default 32; batchtopk: on average; "
                        "jumprelu: where the thresholds start)")
    p.add_argument("--arch", choices=ARCHITECTURES, default="topk",
                   help="SAE architecture (default topk)")
    p.add_argument("--l0-coef", type=positive_float, default=1e-3,
                   help="jumprelu: weight of the L0 penalty (default 1e-3)")
    p.add_argument("--target-layer", default=None,
                   help="train a transcoder predicting this layer's vectors from --layer's")
    p.add_argument("--tokens", type=positive_int, default=65536,
                   help="activation vectors to capture for training, at most (default 65536)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=positive_int, default=None, help="optimiser steps")
    length.add_argument("--epochs", type=positive_float, default=10.0,
                        help="passes over the captured vectors (default 10)")
    p.add_argument("--batch-size", type=positive_int, default=1024,
                   help="vectors per step (default 1024)")
    p.add_argument("--lr", type=positive_float, default=4e-3,
                   help="Adam learning rate (default 4e-3)")
    p.add_argument("--dead-tokens", type=positive_int, default=10_000,
                   help="a latent silent for this many vectors is dead (AuxK revives it)")
    p.add_argument("--eval-limit", type=positive_int, default=None,
                   help="held-out examples to evaluate on (default: the whole test split)")
    p.add_argument("--model-batch-size", type=positive_int, default=None,
                   help="examples per forward of the model (default: 16 texts, 128 images)")
    add_max_length(p, default=256, help="tokens per text (default 256)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    add_no_progress(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Handle ``actsparse sae``: train, measure, write, print the summary."""
    result = run_sae(
        model_name=args.model, layer=args.layer, data_name=args.data, out=Path(args.out),
        n_latents=args.latents, expansion=args.expansion, k=args.k, tokens=args.tokens,
        architecture=args.arch, l0_coef=args.l0_coef, target_layer=args.target_layer,
        steps=args.steps, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        dead_tokens=args.dead_tokens, eval_limit=args.eval_limit,
        model_batch_size=args.model_batch_size, max_length=args.max_length, seed=args.seed,
        progress=not args.no_progress, command=command_line())
    print_summary(result)
    out = Path(args.out)
    print(f"wrote {out / 'sae.safetensors'}, {out / 'sae.json'}, {out / 'report.html'}")
    return 0


class Stopwatch:
    """Seconds of named steps: ``with watch("train_s"): ...``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - start


class Captured:
    """Activation vectors of one layer on the train and test splits, and how to batch them."""

    def __init__(self, zm: zoo.ZooModel, layer: str, train: zoo.Data, test: zoo.Data, *,
                 batch_size: int, max_length: int, seed: int) -> None:
        self.zm, self.layer, self.train, self.test = zm, layer, train, test
        self.batch_size, self.max_length, self.seed = batch_size, max_length, seed

    def batches(self, data: zoo.Data) -> Any:
        """The model's batches of ``data``, texts bucketed by length."""
        return self.zm.batches(_bucketed(self.zm, data, self.batch_size, self.seed),
                               batch_size=self.batch_size, max_length=self.max_length)

    def vectors(self, data: zoo.Data, limit: int) -> torch.Tensor:
        """At most ``limit`` activation vectors of the layer on ``data`` (padding left out)."""
        return capture_activations(self.zm.module, self.batches(data), self.layer, limit=limit)

    def pairs(self, data: zoo.Data, target: str, limit: int) -> tuple[torch.Tensor, torch.Tensor]:
        """At most ``limit`` row-aligned vectors of the layer and of ``target`` on ``data``."""
        return capture_pairs(self.zm.module, self.batches(data), self.layer, target, limit=limit)


def run_sae(
    *, model_name: str | zoo.ZooModel, layer: str, data_name: str, out: Path,
    n_latents: int | None = None, expansion: float = 8.0, k: int = 32, tokens: int = 65536,
    architecture: str = "topk", l0_coef: float = 1e-3, target_layer: str | None = None,
    steps: int | None = None, epochs: float = 10.0, batch_size: int = 1024, lr: float = 4e-3,
    dead_tokens: int = 10_000, eval_limit: int | None = None,
    model_batch_size: int | None = None, max_length: int = 256, seed: int = 0,
    progress: bool = True, command: str = "", shown: int = 6,
) -> dict[str, Any]:
    """Capture, train, evaluate and write the files of ``actsparse sae``; return ``sae.json``.

    ``model_name`` may also be a loaded :class:`~actsparse.zoo.ZooModel` (tests and benchmarks
    reuse one).
    """
    _check_args(n_latents, expansion, k, tokens, max_length)
    offline()
    watch = Stopwatch()
    with watch("load_s"):
        zm = model_name if isinstance(model_name, zoo.ZooModel) else zoo.load_model(model_name)
        resolve_layer(zm.module, layer)  # a bad layer fails before any work
        if target_layer is not None:
            resolve_layer(zm.module, target_layer)
        train_data, test_data = _splits(data_name, eval_limit)
        check_data_fits(zm, train_data, data_name)
        size = model_batch_size or MODEL_BATCH.get(zm.kind, 32)
    data = Captured(zm, layer, train_data, test_data, batch_size=size, max_length=max_length,
                    seed=seed)
    with watch("capture_s"):
        x_train, y_train = _captured(data, train_data, target_layer, tokens)
        d_in = x_train.shape[1]
        latents = n_latents if n_latents is not None else max(1, round(expansion * d_in))
        SparseAutoencoder(d_in, latents, k, architecture=architecture,
                          l0_coef=l0_coef)  # checks the arguments before more work
        x_test, y_test = _captured(data, test_data, target_layer, tokens)
    with watch("train_s"):
        trained = train_sae(x_train, targets=y_train, architecture=architecture,
                            l0_coef=l0_coef, n_latents=latents, k=k, steps=steps,
                            epochs=epochs, batch_size=batch_size, lr=lr,
                            dead_tokens=dead_tokens, seed=seed, progress=progress)
    with watch("evaluate_s"):
        measured = {"train": evaluate_sae(trained.sae, x_train, targets=y_train),
                    "held_out": evaluate_sae(trained.sae, x_test, targets=y_test),
                    "downstream": {"task": "transcoder (not spliced)"} if target_layer else
                    downstream_effect(zm.module, list(data.batches(test_data)), layer,
                                      trained.sae)}
    with watch("examples_s"):
        examples = _top_latents(data, trained, shown)
    name = model_name if isinstance(model_name, str) else zm.name
    result = _result(name, layer, data_name, command, trained, measured, examples, watch)
    result["target_layer"] = target_layer
    _write(out, result, trained, examples)
    return result


def _captured(data: Captured, split: zoo.Data, target_layer: str | None,
              tokens: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The layer's vectors on ``split``, with the target layer's (a transcoder) or None."""
    if target_layer is None:
        return data.vectors(split, tokens), None
    return data.pairs(split, target_layer, tokens)


def _top_latents(data: Captured, trained: SAETrainResult, shown: int) -> list[dict[str, Any]]:
    """The text snippets of the top latents (fast tokenizers only: they give offsets)."""
    zm, texts = data.zm, getattr(data.test, "texts", None)
    if texts is None or zm.tokenizer is None or not getattr(zm.tokenizer, "is_fast", False):
        return []
    return top_latent_examples(zm.module, zm.tokenizer, texts, data.layer, trained.sae,
                               shown=shown, max_length=data.max_length,
                               batch_size=data.batch_size)


def _result(name: str, layer: str, data_name: str, command: str, trained: SAETrainResult,
            measured: dict[str, Any], examples: list[dict[str, Any]], watch: Stopwatch
            ) -> dict[str, Any]:
    """The content of ``sae.json``."""
    held_out = measured["held_out"]
    return {
        "command": command, "model": name, "layer": layer, "data": data_name,
        "sae": trained.sae.config(), "training": {**trained.config,
                                                  "dead_fraction_tracker": trained.dead_fraction,
                                                  "seconds": trained.seconds},
        "input_normalisation": NORMALISATION,
        "train": _public(measured["train"]), "held_out": _public(held_out),
        "downstream": measured["downstream"],
        "density_histogram": held_out["density_histogram"],
        "history": trained.history, "top_latents": examples,
        "timings": {key: round(value, 2) for key, value in watch.seconds.items()},
    }


def _write(out: Path, result: dict[str, Any], trained: SAETrainResult,
           examples: list[dict[str, Any]]) -> None:
    """``sae.safetensors``, ``sae.json`` and ``report.html`` in ``out``."""
    name, layer, data_name = result["model"], result["layer"], result["data"]
    with staged_out(out) as tmp:  # all three files, or none
        save_sae(trained.sae, tmp / "sae.safetensors",
                 meta={"model": name, "layer": layer, "data": data_name})
        write_json(tmp / "sae.json", result)
        write_sae_page(tmp / "report.html", title=f"SAE on {name} {layer} ({data_name})",
                       summary=_summary(result), histogram=result["density_histogram"],
                       history=trained.history, examples=examples, command=result["command"])


def print_summary(result: dict[str, Any], console: Any = None) -> None:
    """Print the summary of a ``run_sae`` result as a small table (rich when installed).

    Example:
        >>> print_summary({"model": "m", "layer": "l", "sae": {"n_latents": 8, "k": 2},
        ...                "train": {"fvu": 0.1, "l0": 2.0, "dead_fraction": 0.0},
        ...                "held_out": {"fvu": 0.2, "l0": 2.0, "dead_fraction": 0.1},
        ...                "downstream": {"task": "lm", "loss_recovered": 0.9}})
        SAE m l
        ...loss_recovered...0.9000...
    """
    rows = [[key, fmt(result["train"].get(key), ".4f"), fmt(result["held_out"].get(key), ".4f")]
            for key in ("fvu", "l0", "dead_fraction")]
    rows += [[key, "", fmt(value, ".4f")] for key, value in result["downstream"].items()
             if isinstance(value, float)]
    print_rows(["measure", "train", "held-out"], rows, title=f"SAE {result['model']} "
               f"{result['layer']}", console=console)


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    rows: dict[str, Any] = {
        "model": result["model"], "layer": result["layer"], "data": result["data"],
        "architecture": result["sae"].get("architecture", "topk"),
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
    """A zoo data set's train and test splits; a user's data: every 10th example held out."""
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
