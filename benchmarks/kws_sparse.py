"""Sparse keyword spotting over seeds: dense, k-WTA and L1 DS-CNNs on held-out voices and noise.

    nice -n 10 .venv/bin/python -m benchmarks.kws_sparse --seeds 0 1 2 3 4 --jobs 2

Each (variant, seed) is one ``actsparse train --model ds-cnn --data speech-commands`` run through
the public API (:func:`actsparse.train.train`, one torch thread; 6 epochs, Adam lr 0.003,
batch 32, the best val epoch kept): ``dense`` (ReLU), ``kwta`` (k-WTA at density 0.15) and
``l1`` (an L1 activation penalty, ``--l1`` its weight). The seed decides the initialisation
and the shuffling; the data (synthesised speech, split by voice) is the same for every run.
Per run: test accuracy (voices unseen in training), held-out engine accuracy, Numenta's speech
noise score (:mod:`actsparse.study.speech_noise`: the same seeded noise for every model, on
the test clips without silence, 11 levels), and the test density of the nine hidden layers
(their plain mean: every layer has 64 x 20 x 49 units), exact non-zeros and ``|a| >= 0.01``.
Per variant: means with 95% t-intervals (:func:`actsparse.study.stats.summarize`), and the
goals of the voice issue checked against dense (paired by seed).

Resumable: every finished run goes into ``--out`` as it finishes, and a rerun skips the runs
already there with the same settings; the run folders go to ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch

import actsparse
from actsparse import zoo
from actsparse.study.speech_noise import numenta_test_clips, speech_noise_curve
from actsparse.study.stats import summarize
from actsparse.train import TrainConfig, train
from actsparse.train.speech_inputs import split_features
from benchmarks._timing import write_json

DATA = "speech-commands"
EPOCHS, LR, BATCH = 6, 0.003, 32  # ~3-4 min a run at 1 thread; val accuracy still rising
L1_WEIGHT = 0.3  # probed at seed 0: density 0.137 (l1:1 gave 0.041 and 66% accuracy)
ACCURACY_MARGIN, DENSITY_GOAL = 0.005, 0.15  # the goals: within 0.5 points at <= 15%
NOISE_SEED = 0  # one noise draw for every model and seed: a paired comparison
METRICS = ("test_accuracy", "heldout_engine_accuracy", "noise_score", "density",
           "near_zero_density", "best_epoch", "seconds")


def variants(l1_weight: float) -> dict[str, str]:
    return {"dense": "none", "kwta": "kwta:0.15", "l1": f"l1:{l1_weight:g}"}


def one_run(sparsity: str, seed: int, epochs: int, folder: str) -> dict[str, Any]:
    """Train one DS-CNN (one torch thread) and measure it: accuracies, noise, density."""
    torch.set_num_threads(1)
    config = TrainConfig(model="ds-cnn", data=DATA, sparsity=sparsity, epochs=epochs, seed=seed,
                         batch_size=BATCH, lr=LR)
    command = (f"actsparse train --model ds-cnn --data {DATA} --sparsity {sparsity} --epochs "
               f"{epochs} --lr {LR} --batch-size {BATCH} --seed {seed} --threads 1 --out {folder}")
    metrics = train(config, folder, progress=False, command=command)
    model = zoo.load_model(folder)  # the best val epoch, as the metrics describe it
    test = zoo.load_speech(DATA, "test")
    waves, labels = numenta_test_clips(test.waves, test.labels, test.classes)
    curve = speech_noise_curve(model.module, waves, labels, features=model.features,
                               seed=NOISE_SEED)
    images = split_features(DATA, "test").images  # the features training used (cached)
    prof = actsparse.profile(model.module, [images[i:i + 256] for i in range(0, len(images), 256)],
                             layers=model.module.hidden_layers)
    layers = [prof[name] for name in model.module.hidden_layers]
    return {
        "sparsity": sparsity, "seed": seed, "epochs": epochs,
        "test_accuracy": metrics["test_accuracy"],
        "heldout_engine_accuracy": metrics["heldout_engine_accuracy"],
        "val_accuracy": metrics["val_accuracy"], "best_epoch": metrics["best_epoch"],
        "noise_curve": curve, "noise_score": sum(curve), "noise_clips": len(labels),
        "density": statistics.fmean(layer.density for layer in layers),
        "near_zero_density": statistics.fmean(1 - layer.near_zero(0.01) for layer in layers),
        "layer_density": metrics["density"], "seconds": metrics["seconds"],
        "eval_seconds": metrics["eval_seconds"],
    }


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _summaries(runs: list[dict[str, Any]], names: dict[str, str], seeds: list[int]
               ) -> dict[str, Any]:
    """Per variant: mean and 95% interval of each metric, over the seeds it finished."""
    out: dict[str, Any] = {}
    for name, sparsity in names.items():
        rows = [r for r in runs if r["sparsity"] == sparsity and r["seed"] in seeds]
        if rows:
            out[name] = {"sparsity": sparsity, "seeds": sorted(r["seed"] for r in rows),
                         **{k: summarize([r[k] for r in rows]).to_dict() for k in METRICS}}
    return out


def goals(runs: list[dict[str, Any]], names: dict[str, str], seeds: list[int]) -> dict[str, Any]:
    """The issue's goals against dense: accuracy within 0.5 points at <= 15% density (paired
    differences by seed), and the best sparse noise score above dense's with non-overlapping
    95% intervals."""
    by = {(r["sparsity"], r["seed"]): r for r in runs if r["seed"] in seeds}
    dense = names["dense"]
    result: dict[str, Any] = {"accuracy": {}, "noise": None}
    best: tuple[float, str] | None = None
    for name, sparsity in names.items():
        paired = [s for s in seeds if (dense, s) in by and (sparsity, s) in by]
        if name == "dense" or len(paired) < 1:
            continue
        diff = summarize([by[(sparsity, s)]["test_accuracy"] - by[(dense, s)]["test_accuracy"]
                          for s in paired])
        density = statistics.fmean(by[(sparsity, s)]["density"] for s in paired)
        result["accuracy"][name] = {
            "seeds": paired, "difference": diff.to_dict(), "density": density,
            "met": diff.mean >= -ACCURACY_MARGIN and density <= DENSITY_GOAL,
            "interval_within_margin": diff.lo is not None and diff.lo >= -ACCURACY_MARGIN}
        score = statistics.fmean(by[(sparsity, s)]["noise_score"] for s in paired)
        if best is None or score > best[0]:
            best = (score, name)
    if best is not None:
        name = best[1]
        paired = result["accuracy"][name]["seeds"]
        sparse = summarize([by[(names[name], s)]["noise_score"] for s in paired])
        base = summarize([by[(dense, s)]["noise_score"] for s in paired])
        supported = (sparse.lo is not None and base.hi is not None and sparse.lo > base.hi)
        result["noise"] = {"best_sparse": name, "seeds": paired, "sparse": sparse.to_dict(),
                           "dense": base.to_dict(), "supported": supported}
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--variants", nargs="+", default=["dense", "kwta", "l1"])
    parser.add_argument("--l1", type=float, default=L1_WEIGHT, help="the L1 penalty's weight")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel, one thread each")
    parser.add_argument("--runs", default=None, help="folder for the run folders")
    parser.add_argument("--out", default="benchmarks/results/kws_sparse.json")
    args = parser.parse_args(argv)

    out, runs_dir = Path(args.out), Path(args.runs or tempfile.mkdtemp(prefix="kws_sparse_"))
    names = {k: v for k, v in variants(args.l1).items() if k in args.variants or k == "dense"}
    done = [r for r in _load(out).get("runs", []) if r["epochs"] == args.epochs]
    have = {(r["sparsity"], r["seed"]) for r in done}
    todo = [(v, s) for s in args.seeds for v in names.values() if (v, s) not in have]
    print(f"{len(have)} runs done, {len(todo)} to train", flush=True)
    command = "python -m benchmarks.kws_sparse " + " ".join(
        sys.argv[1:] if argv is None else argv)

    def write() -> dict[str, Any]:
        payload = {
            "data": DATA, "model": "ds-cnn (DS-CNN-S, Zhang et al. 2017)", "epochs": args.epochs,
            "lr": LR, "batch_size": BATCH, "seeds": args.seeds, "variants": names,
            "noise": {"protocol": "htmpapers runNoiseTests (GSC): x' = (1 - a) x + a u, u ~ "
                                  "U[-1, 1], a = 0, 0.05, ..., 0.5, before the features; test "
                                  "clips without silence", "seed": NOISE_SEED},
            "command": command,
            "summary": _summaries(done, names, args.seeds),
            "goals": goals(done, names, args.seeds),
            "runs": sorted(done, key=lambda r: (r["seed"], r["sparsity"])),
        }
        write_json(out, payload)
        return payload

    payload = write()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(one_run, v, s, args.epochs,
                               str(runs_dir / f"{v.replace(':', '_')}-seed{s}")): (v, s)
                   for v, s in todo}
        for future in as_completed(futures):
            run = future.result()
            done = [r for r in done if (r["sparsity"], r["seed"]) != (run["sparsity"], run["seed"])]
            done.append(run)
            payload = write()
            print(f"{run['sparsity']:10s} seed {run['seed']}: test {run['test_accuracy']:.4f} "
                  f"noise {run['noise_score']} density {run['density']:.3f} "
                  f"({run['seconds']:.0f} s)", flush=True)
    return payload


if __name__ == "__main__":
    main()
