"""Overlap of active sets between MNIST classes: a dense CNN against a k-WTA CNN, side by side.

    .venv/bin/python -m benchmarks.mnist_overlap            # ~3-6 min on 2 busy cores

Trains (or reuses, from ``--runs``) ``actsparse.train``'s CNN twice with the same seed and
budget, ``--sparsity none`` (ReLU) and ``--sparsity kwta:0.1`` (k-winners-take-all, 10% of
each layer's units per sample), then measures on the 10,000 MNIST test images, for the hidden
layers act1 (conv map), act2 (conv map) and act3 (fc):

- class selectivity (Morcos et al. 2018), mean over the units that fired;
- the Jaccard overlap of active sets (|a| > 0) within and between classes, from 100 test
  images per class (a seeded uniform sample), the density over all test images, and
  ``between / chance`` with chance the overlap of random codes of that density;
- the same overlap with every layer cut to the same top fraction of units per sample (1%,
  5%, 10%, 20%), so that the two models are also compared at equal density.

The pretrained zoo ``mnist-cnn`` (dense ReLU, 99.05%) is measured the same way. Writes
``benchmarks/results/mnist_overlap.json`` and the side-by-side heatmaps to
``runs/mnist_overlap/overlap.png``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from actsparse.interpret._observe import run_observers
from actsparse.interpret.overlap import ClassSampler, Overlap
from actsparse.interpret.selectivity import SelectivityState
from actsparse.train import TrainConfig, build_model, load_checkpoint, parse_sparsity, train
from actsparse.train.models import ModelConfig
from benchmarks._timing import write_json

SPECS = {"dense": "none", "k-WTA": "kwta:0.1"}
DENSITIES = (0.01, 0.05, 0.1, 0.2)


def trained(spec: str, runs: Path, epochs: int, seed: int) -> tuple[nn.Module, dict[str, Any]]:
    """Train the CNN with ``spec`` (reusing a finished run in ``runs``); load it back."""
    config = TrainConfig(model="cnn", data="mnist", sparsity=spec, epochs=epochs, seed=seed)
    out = runs / spec.replace(":", "_")
    metrics = train(config, out, resume=True, progress=False)
    ckpt = load_checkpoint(out / "checkpoint.safetensors")
    model = build_model(ModelConfig.from_dict(ckpt.run["model_config"]),
                        parse_sparsity(ckpt.run["sparsity"]))
    model.load_state_dict(ckpt.model)
    model.eval()
    return model, {"test_accuracy": metrics["test_accuracy"], "epochs": ckpt.epoch,
                   "train_seconds": metrics["seconds"]}


def measure(model: nn.Module, batches: list[tuple[Tensor, Tensor]], layers: list[str],
            per_class: int) -> tuple[dict[str, Any], dict[str, Overlap]]:
    """Selectivity and overlap of ``layers`` in one pass; rows of the JSON and the overlaps."""
    t0 = time.perf_counter()
    sel_state = SelectivityState(num_classes=10)
    sampler = ClassSampler(per_class, seed=0, keep_values=True)
    run_observers(model, batches, [sel_state, sampler], layers=layers)
    selectivity, overlaps = sel_state.compute(), sampler.overlaps()
    rows: dict[str, Any] = {}
    for layer in layers:
        o, s = overlaps[layer], selectivity[layer]
        curve = sampler.density_curve(layer, DENSITIES)
        rows[layer] = {
            "units": o.units, "density": o.density, "within": o.within, "between": o.between,
            "within_over_between": o.within / o.between, "chance": o.chance,
            "between_over_chance": o.between_over_chance, "chance_rates": o.chance_rates,
            "mean_selectivity": s.mean_index, "fired_units": int(s.fired.sum()),
            "selectivity_units": int(s.index.numel()),
            "at_equal_density": [{"density": c.density, "within": c.within,
                                  "between": c.between, "chance": c.chance,
                                  "between_over_chance": c.between_over_chance}
                                 for c in curve],
        }
    rows["seconds"] = time.perf_counter() - t0
    return rows, overlaps


def accuracy(model: nn.Module, batches: list[tuple[Tensor, Tensor]]) -> float:
    """Fraction of test images whose largest logit is the label."""
    with torch.inference_mode():
        right = sum(int((model(x).argmax(1) == y).sum()) for x, y in batches)
    return right / sum(len(y) for _, y in batches)


def table(results: dict[str, Any]) -> str:
    """A markdown table: one row per model and layer."""
    lines = ["| model | layer | density | within | between | between / chance | mean SI | "
             "between @10% | between/chance @10% |", "|---|---|---|---|---|---|---|---|---|"]
    for name, res in results.items():
        for layer, r in res["layers"].items():
            if layer == "seconds":
                continue
            at = next(c for c in r["at_equal_density"] if c["density"] > 0.09)
            lines.append(f"| {name} | {layer} | {r['density']:.3f} | {r['within']:.3f} | "
                         f"{r['between']:.3f} | {r['between_over_chance']:.2f} | "
                         f"{r['mean_selectivity']:.3f} | {at['between']:.3f} | "
                         f"{at['between_over_chance']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", default="runs/mnist_overlap", help="folder of the runs")
    parser.add_argument("--json", default="benchmarks/results/mnist_overlap.json")
    parser.add_argument("--figure", default="runs/mnist_overlap/overlap.png")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from actsparse import zoo

    test = zoo.load_data("mnist", split="test")
    batches = [(test.images[i:i + 500], test.labels[i:i + 500]) for i in range(0, len(test), 500)]
    results: dict[str, Any] = {}
    panels: dict[str, Overlap] = {}
    for name, spec in SPECS.items():
        model, info = trained(spec, Path(args.runs), args.epochs, args.seed)
        rows, overlaps = measure(model, batches, ["act1", "act2", "act3"], args.per_class)
        results[name] = {"sparsity": spec, **info, "layers": rows}
        assert abs(accuracy(model, batches) - info["test_accuracy"]) < 1e-9  # the same model
        panels.update({f"{name} {layer}": o for layer, o in overlaps.items()})
        print(table({name: results[name]}), flush=True)
    zm = zoo.load_model("mnist-cnn")
    normalized = [(zm.normalize(x), y) for x, y in batches]
    rows, overlaps = measure(zm.module, normalized, ["features.1", "features.4", "classifier.1"],
                             args.per_class)
    results["zoo mnist-cnn"] = {"sparsity": "none (pretrained ReLU)",
                                "test_accuracy": accuracy(zm.module, normalized), "layers": rows}
    print(table(results))

    from actsparse.report.interpret_figures import overlap_figure

    order = [f"{name} {layer}" for name in SPECS for layer in ("act1", "act2", "act3")]
    fig = overlap_figure({k: panels[k] for k in order},
                         "MNIST test: mean Jaccard of active sets, dense (top) vs k-WTA 10%",
                         cols=3)
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.figure, dpi=100)
    write_json(args.json, {
        "command": shlex.join(["python", "-m", "benchmarks.mnist_overlap", *sys.argv[1:]]),
        "threads": args.threads, "per_class": args.per_class, "test_images": len(test),
        "densities_compared": list(DENSITIES), "figure": args.figure,
        "notes": "Overlap: mean Jaccard of active sets (a != 0) over pairs of 100 test images "
                 "per class (seeded sample); within = mean of the diagonal, between = mean of "
                 "the off-diagonal class pairs; chance = expected Jaccard of random codes with "
                 "the layer's density; chance_rates = the same for independent units with the "
                 "layers' own firing rates. Density and selectivity over all 10,000 test images. "
                 "at_equal_density: each sample keeps its top fraction of units (ties at random). "
                 "Seconds are "
                 "wall time on a shared, noisy 2-core machine, for information only.",
        "results": results, "table": table(results)})


if __name__ == "__main__":
    main()
