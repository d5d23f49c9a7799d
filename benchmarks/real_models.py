"""Per-layer sparsity of the four packaged pretrained models on real data.

    .venv/bin/python -m benchmarks.real_models --json benchmarks/results/real_models.json

MNIST CNN on the 10,000 MNIST test images; MobileNetV2 on the photos (12 crops of 224);
all-MiniLM-L6-v2 and SmolLM2-135M on held-out English text (the text test split).
"""

from __future__ import annotations

import argparse
import os
import statistics
from typing import Any

import actsparse
from actsparse import zoo
from actsparse._hooks import parse_layer_name
from benchmarks._timing import write_json

CASES: list[dict[str, Any]] = [
    {"model": "mnist-cnn", "data": "mnist", "batch_size": 256, "layers": None, "inputs": True},
    {"model": "mobilenetv2", "data": "photos", "batch_size": 12, "layers": None,
     "inputs": False},
    {"model": "minilm", "data": "text", "batch_size": 16, "max_length": 128,
     "layers": ["*intermediate_act_fn", "encoder.layer.?.output.dense:input"], "inputs": False},
    {"model": "smollm2", "data": "text", "batch_size": 8, "max_length": 64, "limit": 32,
     "layers": ["*mlp.act_fn", "*mlp.down_proj:input"], "inputs": False},
]


def run(case: dict[str, Any]) -> dict[str, Any]:
    zm = zoo.load_model(case["model"])
    data = zoo.load_data(case["data"], split="test", limit=case.get("limit"))
    batches = zm.batches(data, batch_size=case["batch_size"],
                         max_length=case.get("max_length", 128))
    prof = actsparse.profile(zm.module, batches, layers=case["layers"], inputs=case["inputs"])
    layers = [
        {key: s[key] for key in ("name", "units", "samples", "density", "zero_fraction",
                                 "near_zero", "hoyer", "gini", "dead_units", "union_density")}
        for s in (layer.summary() for layer in prof)
    ]
    outputs = [layer for layer in layers if not parse_layer_name(layer["name"]).on_input]
    summary = {
        "mean_density": statistics.mean(layer["density"] for layer in outputs),
        "mean_zero_fraction": statistics.mean(layer["zero_fraction"] for layer in outputs),
        "mean_near_zero_1e-2": statistics.mean(layer["near_zero"]["0.01"] for layer in outputs),
    }
    print(f"{case['model']}: {len(layers)} layers, " + ", ".join(
        f"{k} {v:.3f}" for k, v in summary.items()))
    for layer in layers:
        print(f"  {layer['name']:<48} density {layer['density']:.3f}  "
              f"|a|<1e-2 {layer['near_zero']['0.01']:.3f}  dead {layer['dead_units']}")
    return {**case, "summary": summary, "layers": layers, "seconds": prof.meta["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="benchmarks/results/real_models.json")
    parser.add_argument("--models", nargs="+", default=[c["model"] for c in CASES])
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results = [run(case) for case in CASES if case["model"] in args.models]
    write_json(args.json, {"benchmark": "real_models", "cases": results})


if __name__ == "__main__":
    main()
